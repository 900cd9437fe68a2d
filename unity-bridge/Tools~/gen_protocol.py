"""Generate the C# protocol types of the Unity bridge from the one protocol definition.

    python3 unity-bridge/Tools~/gen_protocol.py          # writes Runtime/Core/Protocol/Messages.g.cs
    python3 unity-bridge/Tools~/gen_protocol.py --check  # exit 1 when the committed file is stale

Input: docs/protocol.schema.json (itself generated from realtime/protocol/messages.py). Output: a
class per schema definition with public fields (snake_case -> PascalCase), a decoder that checks
required members, JSON kinds and enums, an encoder that writes members in schema order, and
Validate() for client messages (lengths, ranges, patterns). Standard library only.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BRIDGE = HERE.parent
SCHEMA = BRIDGE.parent / "docs" / "protocol.schema.json"
OUTPUT = BRIDGE / "Runtime" / "Core" / "Protocol" / "Messages.g.cs"


def pascal(name: str) -> str:
    return "".join(p[:1].upper() + p[1:] for p in name.split("_") if p)


def cs_string(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def cs_double(x: float) -> str:
    return repr(float(x))


def doc(text: str | None, indent: str) -> list[str]:
    if not text:
        return []
    text = " ".join(text.split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return [f"{indent}/// <summary>{text}</summary>"]


class Prop:
    """One member: its C# type, how it decodes from a JsonValue `v`, encodes, defaults, checks."""

    def __init__(self, cls: str, name: str, spec: dict, required: bool, defs: dict) -> None:
        self.cls, self.name, self.spec, self.required = cls, name, spec, required
        self.field = pascal(name)
        if self.field == cls:
            self.field += "Value"
        self.description = spec.get("description")
        self.has_default = "default" in spec
        self.default = spec.get("default")
        options = spec.get("anyOf", [spec])
        self.nullable = any(o.get("type") == "null" for o in options)
        kinds = [o for o in options if o.get("type") != "null"]
        self.checks: list[str] = []
        if len(kinds) != 1:
            self.union(kinds)
            return
        self.single(kinds[0], defs)

    # ---------------------------------------------------------------- shapes
    def union(self, kinds: list[dict]) -> None:
        names = {"string": "String", "integer": "Number", "number": "Number", "boolean": "Bool"}
        json_kinds = sorted({names[k["type"]] for k in kinds})
        integer_only = not any(k["type"] == "number" for k in kinds)
        arr = ", ".join(f"JsonKind.{k}" for k in json_kinds)
        self.cs = "JsonValue"
        self.decode = (f"Field.Union(v, new[] {{ {arr} }}, {str(integer_only).lower()}, W, "
                       f"{cs_string(self.name)})")
        self.encode = f"Field.Encode({self.field})"
        self.default_cs = "null"

    def single(self, k: dict, defs: dict) -> None:
        t = k.get("type")
        key = cs_string(self.name)
        n = "true" if self.nullable else "false"
        if "$ref" in k:
            ref = k["$ref"].rsplit("/", 1)[-1]
            self.cs = ref
            self.decode = f"Field.Object(v, {n}, {ref}.FromJson, W, {key})"
            self.encode = f"Field.Encode({self.field}, omitNulls)"
            self.default_cs = "null"
            if self.required and not self.nullable:
                self.checks.append(f"Field.Required({self.field}, W, {key});")
            return
        if t == "string":
            self.cs = "string"
            self.decode = f"Field.String(v, {n}, W, {key})"
            if "const" in k:
                self.const = k["const"]
            if "enum" in k:
                allowed = ", ".join(cs_string(e) for e in k["enum"])
                self.enum_name = f"{self.field}Values"
                self.enum_decl = f"public static readonly string[] {self.enum_name} = {{ {allowed} }};"
                self.decode = f"Field.Enum({self.decode}, {self.enum_name}, W, {key})"
                self.checks.append(f"Field.Enum({self.field}, {self.enum_name}, W, {key});")
            if "minLength" in k or "maxLength" in k:
                lo, hi = k.get("minLength", 0), k.get("maxLength", 2**31 - 1)
                self.checks.append(f"Field.Length({self.field}, {lo}, {hi}, W, {key});")
            if "pattern" in k:
                self.pattern = k["pattern"]
                self.checks.append(f"Field.Pattern({self.field}, {self.field}Pattern, W, {key});")
            if self.required and not self.nullable:
                self.checks.insert(0, f"Field.Required({self.field}, W, {key});")
            self.encode = f"Field.Encode({self.field})"
            self.default_cs = cs_string(self.default) if isinstance(self.default, str) else "null"
            return
        if t in ("integer", "number", "boolean"):
            base = {"integer": "int", "number": "double", "boolean": "bool"}[t]
            method = {"integer": "Int", "number": "Double", "boolean": "Bool"}[t]
            if self.nullable:
                self.cs = base + "?"
                self.decode = f"Field.Nullable{method}(v, W, {key})"
            else:
                self.cs = base
                self.decode = f"Field.{method}(v, W, {key})"
            self.encode = f"Field.Encode({self.field})"
            if "minimum" in k or "maximum" in k:
                lo = cs_double(k["minimum"]) if "minimum" in k else "double.NegativeInfinity"
                hi = cs_double(k["maximum"]) if "maximum" in k else "double.PositiveInfinity"
                self.checks.append(f"Field.Range({self.field}, {lo}, {hi}, W, {key});")
            if self.default is None:
                self.default_cs = "null" if self.nullable else None
            elif t == "boolean":
                self.default_cs = "true" if self.default else "false"
            elif t == "number":
                self.default_cs = cs_double(self.default)
            else:
                self.default_cs = str(int(self.default))
            return
        if t == "array":
            item = k["items"]
            n_ = "true" if self.nullable else "false"
            if "$ref" in item:
                ref = item["$ref"].rsplit("/", 1)[-1]
                self.cs = f"List<{ref}>"
                self.decode = (f"Field.List(v, {n_}, (x, w) => Field.Object(x, false, {ref}.FromJson, w, "
                               f"\"item\"), W, {key})")
                self.encode = f"Field.Encode({self.field}, omitNulls)"
            elif item.get("type") == "integer":
                self.cs = "List<int>"
                self.decode = f"Field.List(v, {n_}, (x, w) => Field.Int(x, w, \"item\"), W, {key})"
                self.encode = f"Field.Encode({self.field})"
            elif item.get("type") == "string":
                self.cs = "List<string>"
                self.decode = f"Field.List(v, {n_}, (x, w) => Field.String(x, false, w, \"item\"), W, {key})"
                self.encode = f"Field.Encode({self.field})"
            else:
                raise SystemExit(f"{self.cls}.{self.name}: unsupported array items {item}")
            self.default_cs = "null"
            return
        if t == "object" and k.get("additionalProperties", {}).get("type") == "string":
            self.cs = "Dictionary<string, string>"
            self.decode = f"Field.StringMap(v, {'true' if self.nullable else 'false'}, W, {key})"
            self.encode = f"Field.Encode({self.field})"
            self.default_cs = "null"
            return
        raise SystemExit(f"{self.cls}.{self.name}: unsupported schema {k}")


def generate(schema_text: str) -> str:
    schema = json.loads(schema_text)
    defs = schema["$defs"]
    unions = {u: [r["$ref"].rsplit("/", 1)[-1] for r in defs[u]["oneOf"]]
              for u in ("ClientMessage", "ServerMessage")}
    digest = hashlib.sha256(schema_text.encode()).hexdigest()
    out = [
        "// <auto-generated>",
        "// GENERATED by unity-bridge/Tools~/gen_protocol.py from docs/protocol.schema.json",
        f"// (sha256 {digest}).",
        "// Do not edit: change realtime/protocol/messages.py, regenerate the schema",
        "// (python -m realtime.protocol docs/protocol.schema.json), then run the generator.",
        "// tests/test_unity_bridge.py fails when this file is stale.",
        "// </auto-generated>",
        "using System;",
        "using System.Collections.Generic;",
        "using System.Text.RegularExpressions;",
        "using AvatarRealtime.Core.Json;",
        "",
        "namespace AvatarRealtime.Core.Protocol",
        "{",
        "    public static class ProtocolInfo",
        "    {",
        f"        public const int Version = {int(schema['version'])};",
        f"        public const string SchemaSha256 = \"{digest}\";",
    ]
    for u, names in unions.items():
        types = ", ".join(cs_string(defs[n]["properties"]["type"]["const"]) for n in names)
        out.append(f"        public static readonly string[] {u.replace('Message', '')}Types = {{ {types} }};")
    out += ["    }", ""]

    for name in sorted(d for d in defs if d not in unions):
        d = defs[name]
        base = ("ClientMessage" if name in unions["ClientMessage"]
                else "ServerMessage" if name in unions["ServerMessage"] else "ProtocolObject")
        required = set(d.get("required", []))
        props = [Prop(name, p, spec, p in required, defs)
                 for p, spec in d.get("properties", {}).items()]
        type_prop = next((p for p in props if p.name == "type"), None)
        members = [p for p in props if p is not type_prop]
        out += doc(d.get("description"), "    ")
        out += [f"    public sealed partial class {name} : {base}", "    {"]
        out.append(f"        private const string W = {cs_string(type_prop.const if type_prop else name)};")
        if type_prop is not None:
            out += [f"        public const string TypeName = {cs_string(type_prop.const)};",
                    "        public override string Type { get { return TypeName; } }"]
        for p in members:
            if hasattr(p, "enum_decl"):
                out.append(f"        {p.enum_decl}")
            if hasattr(p, "pattern"):
                out.append(f"        public static readonly Regex {p.field}Pattern = "
                           f"new Regex({cs_string(p.pattern)}, RegexOptions.CultureInvariant);")
        for p in members:
            out += doc(p.description, "        ")
            init = ""
            if p.default_cs not in (None, "null") and p.has_default:
                init = f" = {p.default_cs}"
            elif p.cs.startswith("List<") and p.has_default is False and p.required:
                init = ""
            out.append(f"        public {p.cs} {p.field}{init};")
        # decoder
        out += ["", f"        public static {name} FromJson(JsonValue o)", "        {",
                "            Field.ExpectObject(o, W);",
                f"            var m = new {name}();",
                "            JsonValue v;"]
        for p in members:
            out.append(f"            v = Field.Get(o, {cs_string(p.name)}, {str(p.required).lower()}, W);")
            out.append(f"            if (v != null) m.{p.field} = {p.decode};")
        if type_prop is not None:
            out.append(f"            v = Field.Get(o, \"type\", {str(type_prop.required).lower()}, W);")
            out.append("            if (v != null && Field.String(v, false, W, \"type\") != TypeName)")
            out.append("                throw new ProtocolException(W + \": type is '\" + v.AsString + \"'\");")
        out += ["            return m;", "        }"]
        # encoder (members in schema order, `type` included)
        out += ["", "        public override JsonValue ToJsonValue(bool omitNulls)", "        {",
                "            var o = JsonValue.NewObject();"]
        for p in props:
            if p is type_prop:
                out.append("            o.Set(\"type\", JsonValue.String(TypeName));")
            else:
                out.append(f"            Field.Put(o, {cs_string(p.name)}, {p.encode}, omitNulls);")
        out += ["            return o;", "        }"]
        checks = [c for p in members for c in p.checks]
        nested = [p for p in members if p.cs in defs and base == "ClientMessage"]
        if base == "ClientMessage":
            out += ["", "        public override void Validate()", "        {"]
            out += [f"            {c}" for c in checks]
            for p in nested:
                out.append(f"            if ({p.field} != null) {p.field}.Validate(W + \".{p.name}\");")
            out.append("        }")
        elif base == "ProtocolObject":
            out += ["", "        /// <summary>Check the schema's constraints; <paramref name=\"where\"/> names this "
                        "object in the message.</summary>",
                    "        public void Validate(string where = W)", "        {"]
            out += [f"            {c.replace(', W, ', ', where, ')}" for c in checks]
            out.append("        }")
        out += ["    }", ""]

    for u, names in unions.items():
        cls = u + "s"
        out += [f"    public static class {cls}", "    {",
                f"        /// <summary>Decode a {u} object by its <c>type</c>.</summary>",
                f"        public static {u} Decode(JsonValue o)", "        {",
                f"            Field.ExpectObject(o, \"{u.replace('Message', '').lower()} message\");",
                "            var t = o.Get(\"type\");",
                "            if (t == null || t.Kind != JsonKind.String)",
                "                throw new ProtocolException(\"message has no string 'type'\");",
                "            switch (t.AsString)", "            {"]
        for n in names:
            out.append(f"                case {n}.TypeName: return {n}.FromJson(o);")
        out += ["                default:",
                "                    throw new ProtocolException(\"unknown message type '\" + t.AsString + \"'\");",
                "            }", "        }", "    }", ""]
    out += ["}", ""]
    return "\n".join(out)


def main(argv: list[str]) -> int:
    text = generate(SCHEMA.read_text(encoding="utf-8"))
    if "--check" in argv:
        current = OUTPUT.read_text(encoding="utf-8") if OUTPUT.exists() else ""
        if current != text:
            print(f"{OUTPUT} is stale: run python3 unity-bridge/Tools~/gen_protocol.py", file=sys.stderr)
            return 1
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
