"""Each recipe step as browser actions, with waits that match how bulk-download pages behave.

Such pages are slow and stateful: a button stays disabled until a script has run, a list of
periods fills in only after a product is chosen, an element is replaced while it is being
read. Every step therefore waits, up to its ``timeout_seconds``, for the state it needs
instead of sleeping, and retries past elements that went stale. A ``select`` waits for its
option to appear, since options often arrive late; a ``select_period`` waits for the list to
hold any period and then decides at once, since "the newest" cannot wait for a better one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import TYPE_CHECKING, TypeVar, cast

import attrs

from overlord.domain.datasets import ElementState, ScrapeStep, StepAction
from overlord.domain.errors import BackendError, InvalidInput, NotFound
from overlord.domain.periods import SHOWN, choose_period, parse_iso_period, read_period

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

T = TypeVar("T")
POLL_SECONDS = 0.1
# One round trip for every option, rather than one per option and attribute.
_OPTIONS = "return Array.from(arguments[0].options, o => [o.value, o.text, o.disabled]);"


@attrs.frozen
class Page:
    """The browser a step acts in, and ``watch``, which raises what the page says went wrong."""

    driver: WebDriver
    url: str
    watch: Callable[[], None]


def perform(page: Page, step: ScrapeStep, values: Mapping[str, str]) -> date | None:
    """Run one step other than ``wait_for_download``; the period chosen, for ``select_period``.

    The page is watched on every poll, so an error page or message that appears while a step
    waits ends the wait at once, with the site's own words.
    """
    driver, selector, action = page.driver, step.selector or "", step.action
    if action is StepAction.CLICK:
        _until(page, step, "clickable element", lambda: _click(_usable(driver, selector)))
    elif action is StepAction.CHOOSE:
        _until(page, step, "clickable element", lambda: _choose(_usable(driver, selector)))
    elif action is StepAction.SELECT:
        _select(page, step, step.filled_option(values))
    elif action is StepAction.SELECT_PERIOD:
        return _select_period(page, step, values)
    elif action is StepAction.WAIT_FOR:
        state = step.state or ElementState.PRESENT
        what = "element" if state is ElementState.PRESENT else f"{state} element"
        _until(page, step, what, lambda: _in_state(driver, selector, state))
    return None


def _until(page: Page, step: ScrapeStep, what: str, check: Callable[[], T | None]) -> T:
    """``check()``'s first truthy result within the step's timeout; page churn is retried."""
    from selenium.common.exceptions import (
        ElementClickInterceptedException,
        ElementNotInteractableException,
        InvalidSelectorException,
        NoSuchElementException,
        StaleElementReferenceException,
        TimeoutException,
    )
    from selenium.webdriver.support.wait import WebDriverWait

    churn = (
        StaleElementReferenceException,
        ElementClickInterceptedException,
        ElementNotInteractableException,
        NoSuchElementException,
    )

    def poll(_: object) -> T | None:
        page.watch()
        return check()

    wait = WebDriverWait(page.driver, step.timeout_seconds, POLL_SECONDS, ignored_exceptions=churn)
    try:
        return cast("T", wait.until(poll))  # until returns only a truthy result
    except InvalidSelectorException:
        raise InvalidInput(f"{step.selector!r} is not a valid CSS selector") from None
    except TimeoutException:
        raise BackendError(
            f"{page.url}: no {what} matches {step.selector!r} after {step.timeout_seconds} s"
        ) from None


def _find(driver: WebDriver, selector: str) -> WebElement | None:
    from selenium.webdriver.common.by import By

    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return found[0] if found else None


def _usable(driver: WebDriver, selector: str) -> WebElement | None:
    element = _find(driver, selector)
    return element if element and element.is_displayed() and element.is_enabled() else None


def _in_state(driver: WebDriver, selector: str, state: ElementState) -> bool:
    element = _find(driver, selector)
    if element is None or state is ElementState.PRESENT:
        return element is not None
    shown = bool(element.is_displayed())
    return shown and (state is ElementState.VISIBLE or bool(element.is_enabled()))


def _click(element: WebElement | None) -> bool:
    if element is None:
        return False
    element.click()
    return True


def _choose(element: WebElement | None) -> bool:
    """Check a radio or checkbox; one already checked is left alone (a click would clear it)."""
    if element is None:
        return False
    if not element.is_selected():
        element.click()
    return bool(element.is_selected())


def _usable_select(driver: WebDriver, selector: str) -> WebElement | None:
    element = _usable(driver, selector)
    if element is not None and str(element.tag_name).lower() != "select":
        raise InvalidInput(f"{selector!r} matches a <{element.tag_name}>, not a <select>")
    return element


def _options(driver: WebDriver, select: WebElement) -> list[tuple[str, str, bool]]:
    return [(str(v), str(t), bool(d)) for v, t, d in driver.execute_script(_OPTIONS, select)]


def _pick(select: WebElement, index: int) -> None:
    from selenium.webdriver.support.select import Select

    Select(select).select_by_index(index)  # clicks the option, so the page's handlers run


def _select(page: Page, step: ScrapeStep, wanted: str) -> None:
    driver, by_value = page.driver, step.value is not None
    seen: list[tuple[str, str, bool]] = []

    def find() -> bool:
        select = _usable_select(driver, step.selector or "")
        if select is None:
            return False
        seen[:] = _options(driver, select)
        for index, (value, text, disabled) in enumerate(seen):
            if not disabled and (value if by_value else " ".join(text.split())) == wanted:
                _pick(select, index)
                return True
        return False

    try:
        _until(page, step, "enabled <select>", find)
    except BackendError:
        if not seen:
            raise
        kind = "value" if by_value else "text"
        offered = ", ".join(repr(v if by_value else t.strip()) for v, t, _ in seen[:SHOWN])
        more = f" and {len(seen) - SHOWN} more" if len(seen) > SHOWN else ""
        raise NotFound(
            f"{page.url}: {step.selector!r} offers no option with {kind} {wanted!r}; "
            f"it offers {offered}{more}"
        ) from None


def _select_period(page: Page, step: ScrapeStep, values: Mapping[str, str]) -> date:
    driver, fmt = page.driver, step.format or ""
    wanted = parse_iso_period(values["period"]) if "period" in values else None

    def loaded() -> tuple[WebElement, list[tuple[int, str]]] | None:
        select = _usable_select(driver, step.selector or "")
        if select is None:
            return None
        options = enumerate(_options(driver, select))
        enabled = [(i, text) for i, (_, text, disabled) in options if not disabled]
        return (select, enabled) if any(read_period(t, fmt) for _, t in enabled) else None

    select, enabled = _until(page, step, "select of periods", loaded)
    texts = [text for _, text in enabled]
    index, period = choose_period(texts, fmt, wanted, offered_by=f"{page.url} {step.selector!r}")
    _pick(select, enabled[index][0])
    return period
