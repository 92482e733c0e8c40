"""Example rule files shipped with Kodeord; `kodeord demo` loads them."""
