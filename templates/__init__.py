"""Built-in Jinja2 templates: console pages and the phone simulator."""
