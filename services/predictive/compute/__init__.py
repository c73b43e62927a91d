"""Pure numerics of the predictive service: grid ETAS, baselines, timing checks, backtests."""
