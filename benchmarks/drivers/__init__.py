"""The dashboard driven as its users drive it: a real server, headless Chromium, a second websocket.

Shared by the benchmarks and the browser tests; they need a checkout and the
test extras (playwright, psutil), which is why they are not in the package.
"""
