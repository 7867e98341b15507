"""Web-grounded calls (SPEC 7, `search = true`): each provider's own documented web search,
the request fields that ask for it and the citations its response returns.

One mechanism per vendor, named by the platform's `web_search` field (presets set it):
- "dashscope" (Qwen, DashScope compatible mode): `enable_search: true` with
  `search_options.forced_search`; https://www.alibabacloud.com/help/zh/model-studio/web-search
  (the compatible protocol returns no search sources: the answer's own URLs are the sources;
  `search_info.search_results` is read should it come).
- "moonshot" (Kimi): the builtin `$web_search` tool, a round trip: the model answers
  `finish_reason: tool_calls`, the call's arguments go back verbatim as the tool message, then
  it answers; https://platform.moonshot.ai/docs/guide/use-web-search
- "zhipu" (GLM): the `web_search` tool with `search_result: true`; results come back in a
  top-level `web_search` list of {title, link, refer};
  https://docs.bigmodel.cn/cn/guide/tools/web-search
- "openai": a search model (`search_model`, e.g. gpt-4o-mini-search-preview) with
  `web_search_options: {}`; citations are the message's `url_citation` annotations;
  https://developers.openai.com/api/docs/guides/tools-web-search
Pure functions over request and response dicts; never does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

WebSearch = Literal["dashscope", "moonshot", "zhipu", "openai"]
WEB_SEARCH_KINDS: tuple[str, ...] = ("dashscope", "moonshot", "zhipu", "openai")
KIMI_TOOL = "$web_search"
MAX_TOOL_ROUNDS = 3  # Kimi may search more than once before it answers

NO_SEARCH_NOTE = (
    "no web search wired for this platform: its OpenAI-compatible chat API documents none we "
    "call (answers come from the model's own knowledge)"
)


def search_fields(mechanism: str) -> dict[str, Any]:
    """What the request body adds to ask for the vendor's web search."""
    if mechanism == "dashscope":
        return {"enable_search": True, "search_options": {"forced_search": True}}
    if mechanism == "moonshot":
        return {"tools": [{"type": "builtin_function", "function": {"name": KIMI_TOOL}}]}
    if mechanism == "zhipu":
        return {"tools": [{"type": "web_search", "web_search": {"enable": True,
                                                                "search_result": True}}]}
    if mechanism == "openai":
        return {"web_search_options": {}}
    return {}


def _message(data: Mapping[str, Any]) -> Mapping[str, Any]:
    choices = data.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        message = choices[0].get("message")
        if isinstance(message, Mapping):
            return message
    return {}


def kimi_tool_calls(data: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The `$web_search` calls a Kimi response asks the client to echo back (else [])."""
    choices = data.get("choices")
    if not (isinstance(choices, list) and choices and isinstance(choices[0], Mapping)):
        return []
    if choices[0].get("finish_reason") != "tool_calls":
        return []
    calls = _message(data).get("tool_calls")
    return [
        call for call in calls or ()
        if isinstance(call, Mapping) and isinstance(call.get("function"), Mapping)
        and call["function"].get("name") == KIMI_TOOL
    ] if isinstance(calls, list) else []


def kimi_follow_up(data: Mapping[str, Any], calls: list[Mapping[str, Any]]) -> list[dict]:
    """The messages that answer a `$web_search` round: the assistant's message as sent, then
    each call's arguments verbatim as its tool message (the documented protocol)."""
    messages: list[dict] = [dict(_message(data))]
    for call in calls:
        messages.append(
            {
                "role": "tool",
                "tool_call_id": call.get("id"),
                "name": KIMI_TOOL,
                "content": call["function"].get("arguments") or "{}",
            }
        )
    return messages


def _cited(url: Any, title: Any) -> dict[str, str] | None:
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return None
    cited = {"url": url}
    if isinstance(title, str) and title:
        cited["title"] = title
    return cited


def citations(data: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    """Every citation a response carries, in order, once per URL: OpenAI annotations, GLM's
    top-level `web_search`, DashScope's `search_info.search_results`."""
    found: list[dict[str, str] | None] = []
    for note in _message(data).get("annotations") or ():
        if isinstance(note, Mapping) and isinstance(note.get("url_citation"), Mapping):
            found.append(_cited(note["url_citation"].get("url"), note["url_citation"].get("title")))
    for result in data.get("web_search") or () if isinstance(data.get("web_search"), list) else ():
        if isinstance(result, Mapping):
            found.append(_cited(result.get("link"), result.get("title")))
    info = data.get("search_info")
    results = info.get("search_results") if isinstance(info, Mapping) else None
    for result in results if isinstance(results, list) else ():
        if isinstance(result, Mapping):
            found.append(_cited(result.get("url"), result.get("title")))
    seen: set[str] = set()
    unique = []
    for cited in found:
        if cited and cited["url"] not in seen:
            seen.add(cited["url"])
            unique.append(cited)
    return tuple(unique)
