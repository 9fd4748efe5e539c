"""The router: workspace commands → the config table; events → one delivery per destination."""
