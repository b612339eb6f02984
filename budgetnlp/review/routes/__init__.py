"""The app's routes, thin: parse the request, make one service call, answer."""
