"""A small JSON Schema validator and docs/openapi.yaml reader (stdlib only).

It covers the keywords the agent API's schemas use: type (a name or a
list), enum, const, required, properties, additionalProperties, items,
minItems/maxItems, minimum/maximum, minLength/maxLength, pattern,
oneOf/anyOf/allOf and local $ref.  An unknown keyword is an error, so a
schema never silently passes because this validator skipped a part of it.

docs/openapi.yaml is written in the JSON subset of YAML 1.2 (every JSON
document is valid YAML), because Python's standard library has no YAML
parser and the tests may use nothing else; json.load reads it.
"""
import json
import os
import re

TOP = os.environ.get("DINO_TOP", os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))))
OPENAPI = os.path.join(TOP, "docs", "openapi.yaml")

ANNOTATIONS = {"description", "title", "examples", "example", "default",
               "$comment", "format", "deprecated", "readOnly", "writeOnly"}
KNOWN = ANNOTATIONS | {"type", "enum", "const", "required", "properties",
                       "additionalProperties", "items", "minItems",
                       "maxItems", "minimum", "maximum", "minLength",
                       "maxLength", "pattern", "oneOf", "anyOf", "allOf",
                       "$ref"}


def _type_ok(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "null":
        return v is None
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    raise ValueError("unknown type %r" % t)


class Validator:
    def __init__(self, root=None):
        self.root = root or {}

    def resolve(self, ref):
        if not ref.startswith("#/"):
            raise ValueError("only local $ref: %r" % ref)
        node = self.root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def errors(self, value, schema, path="$"):
        """Returns a list of "path: problem" strings (empty if valid)."""
        out = []
        self._check(value, schema, path, out)
        return out

    def _check(self, v, s, path, out):
        if s is True or s == {}:
            return
        if s is False:
            out.append("%s: nothing is allowed here" % path)
            return
        unknown = set(s) - KNOWN
        if unknown:
            raise ValueError("%s: unsupported keywords %s" %
                             (path, sorted(unknown)))
        if "$ref" in s:
            self._check(v, self.resolve(s["$ref"]), path, out)
        if "type" in s:
            types = s["type"] if isinstance(s["type"], list) else [s["type"]]
            if not any(_type_ok(v, t) for t in types):
                out.append("%s: %r is not of type %s" % (path, v, types))
                return
        if "enum" in s and v not in s["enum"]:
            out.append("%s: %r not in %r" % (path, v, s["enum"]))
        if "const" in s and v != s["const"]:
            out.append("%s: %r is not %r" % (path, v, s["const"]))
        self._check_number(v, s, path, out)
        self._check_string(v, s, path, out)
        self._check_object(v, s, path, out)
        self._check_array(v, s, path, out)
        self._check_combinators(v, s, path, out)

    def _check_number(self, v, s, path, out):
        if not _type_ok(v, "number"):
            return
        if "minimum" in s and v < s["minimum"]:
            out.append("%s: %r < minimum %r" % (path, v, s["minimum"]))
        if "maximum" in s and v > s["maximum"]:
            out.append("%s: %r > maximum %r" % (path, v, s["maximum"]))

    def _check_string(self, v, s, path, out):
        if not isinstance(v, str):
            return
        if "minLength" in s and len(v) < s["minLength"]:
            out.append("%s: shorter than %d" % (path, s["minLength"]))
        if "maxLength" in s and len(v) > s["maxLength"]:
            out.append("%s: longer than %d" % (path, s["maxLength"]))
        if "pattern" in s and re.search(s["pattern"], v) is None:
            out.append("%s: %r does not match %r" % (path, v, s["pattern"]))

    def _check_object(self, v, s, path, out):
        if not isinstance(v, dict):
            return
        for name in s.get("required", []):
            if name not in v:
                out.append("%s: missing %r" % (path, name))
        props = s.get("properties", {})
        extra = s.get("additionalProperties", True)
        for name, item in v.items():
            if name in props:
                self._check(item, props[name], "%s.%s" % (path, name), out)
            elif extra is False:
                out.append("%s: unexpected member %r" % (path, name))
            elif isinstance(extra, dict):
                self._check(item, extra, "%s.%s" % (path, name), out)

    def _check_array(self, v, s, path, out):
        if not isinstance(v, list):
            return
        if "minItems" in s and len(v) < s["minItems"]:
            out.append("%s: fewer than %d items" % (path, s["minItems"]))
        if "maxItems" in s and len(v) > s["maxItems"]:
            out.append("%s: more than %d items" % (path, s["maxItems"]))
        if "items" in s:
            for i, item in enumerate(v):
                self._check(item, s["items"], "%s[%d]" % (path, i), out)

    def _check_combinators(self, v, s, path, out):
        for sub in s.get("allOf", []):
            self._check(v, sub, path, out)
        if "anyOf" in s and not any(not self.errors(v, sub, path)
                                    for sub in s["anyOf"]):
            out.append("%s: matches none of anyOf" % path)
        if "oneOf" in s:
            n = sum(1 for sub in s["oneOf"] if not self.errors(v, sub, path))
            if n != 1:
                out.append("%s: matches %d of oneOf, not 1" % (path, n))


def load_openapi(path=OPENAPI):
    with open(path) as f:
        return json.load(f)


class OpenAPI:
    """Finds the operation of a request and validates its answer."""

    def __init__(self, doc=None):
        self.doc = doc or load_openapi()
        self.v = Validator(self.doc)
        self.routes = []
        for tmpl, item in self.doc["paths"].items():
            rx = "^" + re.sub(r"\\\{[^}]+\\\}", "([^/]+)",
                              re.escape(tmpl)) + "$"
            self.routes.append((re.compile(rx), tmpl, item))

    def operation(self, method, path):
        path = path.split("?", 1)[0]
        for rx, tmpl, item in self.routes:
            if rx.match(path):
                return tmpl, item.get(method.lower())
        return None, None

    def deref(self, s):
        while isinstance(s, dict) and "$ref" in s:
            s = self.v.resolve(s["$ref"])
        return s

    def response_errors(self, method, path, status, body):
        """Problems of one answer; a route not described is a problem."""
        tmpl, op = self.operation(method, path)
        if op is None:
            # Unknown routes still answer the documented error envelope.
            return self.v.errors(body, {"$ref": "#/components/schemas/Error"})
        resp = op["responses"].get(str(status))
        if resp is None:
            return ["%s %s: status %d not documented" % (method, tmpl,
                                                          status)]
        schema = resp["content"]["application/json"]["schema"]
        return self.v.errors(body, schema, "%s %s %d" % (method, tmpl,
                                                          status))

    def tool_schemas(self, name):
        """(inputSchema, outputSchema) of a tool, from x-dino-tool."""
        for item in self.doc["paths"].values():
            for op in item.values():
                if op.get("operationId") == name and "x-dino-tool" in op:
                    t = op["x-dino-tool"]
                    return (self.deref(t["inputSchema"]),
                            self.deref(t["outputSchema"]))
        return None, None

    def tool_route(self, name):
        for tmpl, item in self.doc["paths"].items():
            for method, op in item.items():
                if op.get("operationId") == name:
                    return method.upper(), tmpl
        return None, None
