"""Backtests run from the browser or the API: a rolling-origin backtest of one agency over a
period of origin days, queued as a background job that reports how many days are done."""
