"""Web pages as a Source, driven in a real headless Chromium through Selenium.

Selenium is imported only when a fetch starts a browser, so importing this package costs
nothing and needs neither Selenium nor Chromium installed.
"""
