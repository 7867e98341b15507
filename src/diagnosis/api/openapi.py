"""The OpenAPI document says what the API really answers (SPEC 6, issue 14).

FastAPI documents its own 422 body (`detail` as a list) and only the codes a route declares; ours
answers `{detail, errors}` through one handler, and every route can also answer what the shared
layers add (401 with tokens on, 413 from the body limit, 503 when the database fails). This module
rewrites the generated document once: one error schema for every 4xx/5xx, the shared codes on
every route they apply to, and links from a started execution to its routes (so a client, or a
fuzzer, can follow them). It never changes a route's behaviour.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from diagnosis.api.schemas import ErrorOut

ERROR_REF = {"$ref": "#/components/schemas/ErrorOut"}
SHARED = {
    401: "Tokens are on and the request has no valid Bearer token / 未授权",
    413: "Body over the size limit / 请求体过大",
    422: "Invalid input: `detail` and `errors` per field / 参数错误",
    503: "The database is unavailable; retry after `Retry-After` seconds / 数据库暂不可用",
}
OPEN_PATHS = ("/health", "/metrics", "/api/test")
# The routes an execution id leads to, by (path, method); linked from every start.
EXECUTION_ROUTES = (
    ("/api/diagnoses/{execution_id}", "get"),
    ("/api/diagnoses/{execution_id}/events", "get"),
    ("/api/stream/progress/{execution_id}", "get"),
    ("/api/diagnoses/{execution_id}/results", "get"),
    ("/api/diagnoses/{execution_id}/report", "get"),
    ("/api/diagnoses/{execution_id}/cancel", "post"),
    ("/api/diagnoses/{execution_id}/retry", "post"),
    ("/test/status/{execution_id}", "get"),
    ("/api/diagnosis/report/{execution_id}", "get"),
)


def install_openapi(app: FastAPI, *, platform_names: list[str]) -> None:
    """`platform_names`: the ids, display names and aliases of the platforms configured on
    this server; the document lists them, since naming another one is a 400."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes, tags=app.openapi_tags,
            )
            app.openapi_schema = truthful(schema, platform_names=platform_names)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def truthful(schema: dict[str, Any], *, platform_names: list[str]) -> dict[str, Any]:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    platforms = components.get("DiagnosisCreate", {}).get("properties", {}).get("platforms")
    if platforms is not None and platform_names:
        platforms["items"] = {
            "type": "string", "enum": platform_names,
            "description": "A configured platform's id, display name or alias (any case)",
        }
    components.update(ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
                      .pop("$defs", {}))
    components["ErrorOut"] = {
        k: v for k, v in ErrorOut.model_json_schema(
            ref_template="#/components/schemas/{model}").items() if k != "$defs"
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            _document_errors(path, method, operation)
    _link_executions(schema)
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    return schema


def _document_errors(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    has_input = bool(operation.get("parameters")) or "requestBody" in operation
    codes = dict(SHARED)
    if "requestBody" in operation:
        # FastAPI's own refusal of a body it cannot decode at all (not UTF-8 JSON).
        codes[400] = "The body cannot be read / 请求体无法解析"
    if path in OPEN_PATHS:
        codes.pop(401)
    if method != "post":
        codes.pop(413)
    if not has_input and method != "post":
        codes.pop(422)
    if path == "/metrics":
        codes.pop(503)
    for number, description in codes.items():
        responses.setdefault(str(number), {"description": description})
    for code, response in responses.items():
        if not code.startswith(("4", "5")):
            continue
        content = response.setdefault("content", {})
        json_body = content.get("application/json")
        if json_body is None or _is_default_error(json_body):
            content["application/json"] = {"schema": ERROR_REF}
        if code in ("429", "503"):
            response.setdefault("headers", {})["Retry-After"] = {
                "description": "Seconds to wait / 等待秒数", "schema": {"type": "integer"},
            }


def _is_default_error(body: dict[str, Any]) -> bool:
    ref = body.get("schema", {}).get("$ref", "")
    return ref.endswith(("/HTTPValidationError", "/ErrorOut")) or not body.get("schema")


def _link_executions(schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    links = {}
    for path, method in EXECUTION_ROUTES:
        operation = paths.get(path, {}).get(method)
        if operation is None or "operationId" not in operation:
            continue
        links[operation["operationId"]] = {
            "operationId": operation["operationId"],
            "parameters": {"execution_id": "$response.body#/execution_id"},
        }
    for path, method, code in (("/api/diagnoses", "post", "202"),
                               ("/api/diagnoses/{execution_id}/retry", "post", "202"),
                               ("/api/perform-brand-test", "post", "200")):
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(code)
        if response is not None:
            response["links"] = dict(links)
