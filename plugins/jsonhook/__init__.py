"""Generic JSON webhook gateway, signed with HMAC-SHA256 both ways."""
