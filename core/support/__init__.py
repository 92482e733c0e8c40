"""What every stage uses: exceptions (``errors``), the plugin manager (``manager``), the embedded Redis
(``redis_server``), the gateways' HTTP client (``httpclient``), the CSV reader (``csvfile``), Redis scripts
(``luascript``) and the names modules had before the core was laid out by stage (``moved``)."""
