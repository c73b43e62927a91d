"""Camera health from the cameras themselves: streams, checks, faults found by them."""
