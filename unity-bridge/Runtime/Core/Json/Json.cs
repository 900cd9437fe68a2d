using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;

namespace AvatarRealtime.Core.Json
{
    public enum JsonKind { Null, Bool, Number, String, Array, Object }

    /// <summary>Thrown for text that is not JSON, or JSON that is not the message the schema says.</summary>
    public sealed class JsonException : Exception
    {
        public JsonException(string message) : base(message) { }
    }

    /// <summary>
    /// A parsed JSON value. Small and dependency-free on purpose: the core must build for every
    /// Unity target (IL2CPP strips reflection-based serializers) and under Mono's mcs here.
    /// Objects keep their keys in document order.
    /// </summary>
    public sealed class JsonValue
    {
        public static readonly JsonValue Null = new JsonValue(JsonKind.Null);
        public static readonly JsonValue True = new JsonValue(JsonKind.Bool) { _bool = true };
        public static readonly JsonValue False = new JsonValue(JsonKind.Bool) { _bool = false };

        public readonly JsonKind Kind;
        private bool _bool;
        private double _number;
        private bool _integral;
        private long _long;
        private string _string;
        private List<JsonValue> _items;
        private List<KeyValuePair<string, JsonValue>> _members;

        private JsonValue(JsonKind kind) { Kind = kind; }

        public static JsonValue Bool(bool b) { return b ? True : False; }
        public static JsonValue String(string s) { return s == null ? Null : new JsonValue(JsonKind.String) { _string = s }; }
        public static JsonValue Number(double d) { return new JsonValue(JsonKind.Number) { _number = d }; }
        public static JsonValue Number(long l) { return new JsonValue(JsonKind.Number) { _number = l, _long = l, _integral = true }; }
        public static JsonValue NewArray() { return new JsonValue(JsonKind.Array) { _items = new List<JsonValue>() }; }
        public static JsonValue NewObject() { return new JsonValue(JsonKind.Object) { _members = new List<KeyValuePair<string, JsonValue>>() }; }

        public bool IsNull { get { return Kind == JsonKind.Null; } }
        /// <summary>A number written without fraction or exponent (or an integral value that fits a long).</summary>
        public bool IsIntegral { get { return Kind == JsonKind.Number && _integral; } }
        public bool AsBool { get { Expect(JsonKind.Bool); return _bool; } }
        public double AsDouble { get { Expect(JsonKind.Number); return _number; } }
        public long AsLong
        {
            get
            {
                Expect(JsonKind.Number);
                if (!_integral) throw new JsonException("expected an integer, got " + ToJson());
                return _long;
            }
        }
        public string AsString { get { Expect(JsonKind.String); return _string; } }
        public IList<JsonValue> Items { get { Expect(JsonKind.Array); return _items; } }
        public IList<KeyValuePair<string, JsonValue>> Members { get { Expect(JsonKind.Object); return _members; } }
        public int Count { get { return Kind == JsonKind.Array ? _items.Count : Kind == JsonKind.Object ? _members.Count : 0; } }

        /// <summary>Member of an object, or null when absent (a JSON null is <see cref="Null"/>).</summary>
        public JsonValue Get(string key)
        {
            Expect(JsonKind.Object);
            for (int i = 0; i < _members.Count; i++)
                if (_members[i].Key == key) return _members[i].Value;
            return null;
        }

        public JsonValue Add(JsonValue item) { Expect(JsonKind.Array); _items.Add(item ?? Null); return this; }

        public JsonValue Set(string key, JsonValue value)
        {
            Expect(JsonKind.Object);
            for (int i = 0; i < _members.Count; i++)
            {
                if (_members[i].Key == key) { _members[i] = new KeyValuePair<string, JsonValue>(key, value ?? Null); return this; }
            }
            _members.Add(new KeyValuePair<string, JsonValue>(key, value ?? Null));
            return this;
        }

        private void Expect(JsonKind kind)
        {
            if (Kind != kind)
                throw new JsonException("expected " + KindName(kind) + ", got " + KindName(Kind));
        }

        public static string KindName(JsonKind kind)
        {
            switch (kind)
            {
                case JsonKind.Null: return "null";
                case JsonKind.Bool: return "a boolean";
                case JsonKind.Number: return "a number";
                case JsonKind.String: return "a string";
                case JsonKind.Array: return "an array";
                default: return "an object";
            }
        }

        public string ToJson()
        {
            var sb = new StringBuilder();
            Write(sb, this);
            return sb.ToString();
        }

        public override string ToString() { return ToJson(); }

        public static JsonValue Parse(string text) { return new JsonParser(text).ParseDocument(); }

        // ------------------------------------------------------------------ writing
        /// <summary>Compact JSON: no spaces, keys in insertion order, non-ASCII text as UTF-8,
        /// numbers as Python's json module writes them (so encodings compare byte for byte).</summary>
        public static void Write(StringBuilder sb, JsonValue v)
        {
            switch (v.Kind)
            {
                case JsonKind.Null: sb.Append("null"); break;
                case JsonKind.Bool: sb.Append(v._bool ? "true" : "false"); break;
                case JsonKind.Number:
                    if (v._integral) sb.Append(v._long.ToString(CultureInfo.InvariantCulture));
                    else sb.Append(FormatDouble(v._number));
                    break;
                case JsonKind.String: WriteString(sb, v._string); break;
                case JsonKind.Array:
                    sb.Append('[');
                    for (int i = 0; i < v._items.Count; i++)
                    {
                        if (i > 0) sb.Append(',');
                        Write(sb, v._items[i]);
                    }
                    sb.Append(']');
                    break;
                default:
                    sb.Append('{');
                    for (int i = 0; i < v._members.Count; i++)
                    {
                        if (i > 0) sb.Append(',');
                        WriteString(sb, v._members[i].Key);
                        sb.Append(':');
                        Write(sb, v._members[i].Value);
                    }
                    sb.Append('}');
                    break;
            }
        }

        private const string Hex = "0123456789abcdef";

        public static void WriteString(StringBuilder sb, string s)
        {
            sb.Append('"');
            foreach (char c in s)
            {
                switch (c)
                {
                    case '"': sb.Append("\\\""); break;
                    case '\\': sb.Append("\\\\"); break;
                    case '\n': sb.Append("\\n"); break;
                    case '\r': sb.Append("\\r"); break;
                    case '\t': sb.Append("\\t"); break;
                    case '\b': sb.Append("\\b"); break;
                    case '\f': sb.Append("\\f"); break;
                    default:
                        if (c < 0x20)
                            sb.Append("\\u00").Append(Hex[c >> 4]).Append(Hex[c & 0xF]);
                        else
                            sb.Append(c);
                        break;
                }
            }
            sb.Append('"');
        }

        /// <summary>
        /// The shortest text that reads back as the same double, laid out like Python's
        /// <c>repr(float)</c>: <c>120.0</c>, <c>0.1</c>, <c>1e-05</c>, <c>1.5e+16</c>.
        /// </summary>
        public static string FormatDouble(double d)
        {
            if (double.IsNaN(d) || double.IsInfinity(d))
                throw new JsonException("JSON has no NaN or Infinity (" + d + ")");
            if (d == 0) return (1 / d) < 0 ? "-0.0" : "0.0";
            string best = null;
            for (int p = 1; p <= 17; p++)
            {
                string e = d.ToString("E" + (p - 1), CultureInfo.InvariantCulture);
                if (double.Parse(e, NumberStyles.Float, CultureInfo.InvariantCulture) == d) { best = e; break; }
            }
            if (best == null) best = d.ToString("E16", CultureInfo.InvariantCulture);
            // best looks like "-1.2345E+003"
            bool negative = best[0] == '-';
            if (negative) best = best.Substring(1);
            int ePos = best.IndexOf('E');
            string digits = best.Substring(0, ePos).Replace(".", "").TrimEnd('0');
            if (digits.Length == 0) digits = "0";
            int exp = int.Parse(best.Substring(ePos + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            var sb = new StringBuilder();
            if (negative) sb.Append('-');
            if (exp >= -4 && exp < 16)
            {
                if (exp < 0)
                {
                    sb.Append("0.").Append('0', -exp - 1).Append(digits);
                }
                else if (digits.Length <= exp + 1)
                {
                    sb.Append(digits).Append('0', exp + 1 - digits.Length).Append(".0");
                }
                else
                {
                    sb.Append(digits, 0, exp + 1).Append('.').Append(digits, exp + 1, digits.Length - exp - 1);
                }
            }
            else
            {
                sb.Append(digits[0]);
                if (digits.Length > 1) sb.Append('.').Append(digits, 1, digits.Length - 1);
                sb.Append('e').Append(exp < 0 ? '-' : '+').Append(Math.Abs(exp).ToString("00", CultureInfo.InvariantCulture));
            }
            return sb.ToString();
        }

        // ------------------------------------------------------------------ parsing
        private sealed class JsonParser
        {
            private const int MaxDepth = 64;
            private readonly string _s;
            private int _i;

            public JsonParser(string s)
            {
                if (s == null) throw new JsonException("no JSON text (null)");
                _s = s;
            }

            public JsonValue ParseDocument()
            {
                SkipWs();
                var v = ParseValue(0);
                SkipWs();
                if (_i != _s.Length) Fail("unexpected text after the JSON value");
                return v;
            }

            private void Fail(string what)
            {
                int from = Math.Max(0, _i - 20);
                string near = _s.Substring(from, Math.Min(40, _s.Length - from));
                throw new JsonException("invalid JSON at offset " + _i + ": " + what + " (near '" + near + "')");
            }

            private void SkipWs()
            {
                while (_i < _s.Length)
                {
                    char c = _s[_i];
                    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') _i++;
                    else break;
                }
            }

            private JsonValue ParseValue(int depth)
            {
                if (depth > MaxDepth) Fail("nested deeper than " + MaxDepth);
                if (_i >= _s.Length) Fail("unexpected end");
                char c = _s[_i];
                switch (c)
                {
                    case '{': return ParseObject(depth);
                    case '[': return ParseArray(depth);
                    case '"': return String(ParseString());
                    case 't': Literal("true"); return True;
                    case 'f': Literal("false"); return False;
                    case 'n': Literal("null"); return Null;
                    default:
                        if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber();
                        Fail("unexpected character '" + c + "'");
                        return null;
                }
            }

            private void Literal(string word)
            {
                if (string.CompareOrdinal(_s, _i, word, 0, word.Length) != 0) Fail("expected " + word);
                _i += word.Length;
            }

            private JsonValue ParseObject(int depth)
            {
                var obj = NewObject();
                _i++;
                SkipWs();
                if (_i < _s.Length && _s[_i] == '}') { _i++; return obj; }
                while (true)
                {
                    SkipWs();
                    if (_i >= _s.Length || _s[_i] != '"') Fail("expected a member name");
                    string key = ParseString();
                    SkipWs();
                    if (_i >= _s.Length || _s[_i] != ':') Fail("expected ':'");
                    _i++;
                    SkipWs();
                    var value = ParseValue(depth + 1);
                    if (obj.Get(key) != null) Fail("duplicate member '" + key + "'");
                    obj._members.Add(new KeyValuePair<string, JsonValue>(key, value));
                    SkipWs();
                    if (_i >= _s.Length) Fail("unterminated object");
                    if (_s[_i] == ',') { _i++; continue; }
                    if (_s[_i] == '}') { _i++; return obj; }
                    Fail("expected ',' or '}'");
                }
            }

            private JsonValue ParseArray(int depth)
            {
                var arr = NewArray();
                _i++;
                SkipWs();
                if (_i < _s.Length && _s[_i] == ']') { _i++; return arr; }
                while (true)
                {
                    SkipWs();
                    arr._items.Add(ParseValue(depth + 1));
                    SkipWs();
                    if (_i >= _s.Length) Fail("unterminated array");
                    if (_s[_i] == ',') { _i++; continue; }
                    if (_s[_i] == ']') { _i++; return arr; }
                    Fail("expected ',' or ']'");
                }
            }

            private string ParseString()
            {
                _i++; // opening quote
                var sb = new StringBuilder();
                while (true)
                {
                    if (_i >= _s.Length) Fail("unterminated string");
                    char c = _s[_i++];
                    if (c == '"') return sb.ToString();
                    if (c < 0x20) { _i--; Fail("control character in a string"); }
                    if (c != '\\') { sb.Append(c); continue; }
                    if (_i >= _s.Length) Fail("unterminated escape");
                    char e = _s[_i++];
                    switch (e)
                    {
                        case '"': sb.Append('"'); break;
                        case '\\': sb.Append('\\'); break;
                        case '/': sb.Append('/'); break;
                        case 'b': sb.Append('\b'); break;
                        case 'f': sb.Append('\f'); break;
                        case 'n': sb.Append('\n'); break;
                        case 'r': sb.Append('\r'); break;
                        case 't': sb.Append('\t'); break;
                        case 'u':
                            if (_i + 4 > _s.Length) Fail("short \\u escape");
                            int code;
                            if (!int.TryParse(_s.Substring(_i, 4), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out code))
                                Fail("bad \\u escape");
                            sb.Append((char)code);
                            _i += 4;
                            break;
                        default:
                            _i--;
                            Fail("bad escape '\\" + e + "'");
                            break;
                    }
                }
            }

            private JsonValue ParseNumber()
            {
                int start = _i;
                if (_s[_i] == '-') _i++;
                if (_i >= _s.Length) Fail("bad number");
                if (_s[_i] == '0') _i++;
                else if (_s[_i] >= '1' && _s[_i] <= '9') { while (_i < _s.Length && char.IsDigit(_s[_i])) _i++; }
                else Fail("bad number");
                bool integral = true;
                if (_i < _s.Length && _s[_i] == '.')
                {
                    integral = false;
                    _i++;
                    if (_i >= _s.Length || !char.IsDigit(_s[_i])) Fail("digits expected after '.'");
                    while (_i < _s.Length && char.IsDigit(_s[_i])) _i++;
                }
                if (_i < _s.Length && (_s[_i] == 'e' || _s[_i] == 'E'))
                {
                    integral = false;
                    _i++;
                    if (_i < _s.Length && (_s[_i] == '+' || _s[_i] == '-')) _i++;
                    if (_i >= _s.Length || !char.IsDigit(_s[_i])) Fail("digits expected in the exponent");
                    while (_i < _s.Length && char.IsDigit(_s[_i])) _i++;
                }
                string text = _s.Substring(start, _i - start);
                double d = double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture);
                var v = new JsonValue(JsonKind.Number) { _number = d };
                long l;
                if (integral && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out l))
                {
                    v._integral = true;
                    v._long = l;
                }
                return v;
            }
        }
    }
}
