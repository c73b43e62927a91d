"""The CCTV asset register: cameras, faults, footage requests, SEG decisions and reviews."""
