"""The SEG's quarterly CCTV briefing: figures from the register, a static map, HTML and PDF."""
