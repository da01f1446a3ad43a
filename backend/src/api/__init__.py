"""The HTTP API: routes, middleware, and the service object the routes share."""
