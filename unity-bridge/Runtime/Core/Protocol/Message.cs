using System;
using System.Collections.Generic;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using AvatarRealtime.Core.Json;

namespace AvatarRealtime.Core.Protocol
{
    /// <summary>A frame or message that does not follow protocol v1 (docs/protocol.md).</summary>
    public sealed class ProtocolException : Exception
    {
        public ProtocolException(string message) : base(message) { }
        public ProtocolException(string message, Exception inner) : base(message, inner) { }
    }

    /// <summary>Any object of the protocol schema (messages and the shapes inside them).</summary>
    public abstract class ProtocolObject
    {
        /// <summary>The JSON object, members in schema order. <paramref name="omitNulls"/> leaves out
        /// null members (what a client sends); otherwise they are written as null (what the server sends).</summary>
        public abstract JsonValue ToJsonValue(bool omitNulls);

        public string ToJson(bool omitNulls)
        {
            var sb = new StringBuilder();
            JsonValue.Write(sb, ToJsonValue(omitNulls));
            return sb.ToString();
        }

        public override string ToString() { return ToJson(false); }
    }

    /// <summary>A message from the server (a JSON text frame).</summary>
    public abstract class ServerMessage : ProtocolObject
    {
        public abstract string Type { get; }

        /// <summary>Decode one JSON text frame. Throws <see cref="ProtocolException"/> saying what is
        /// wrong: invalid JSON, not an object, unknown type, a missing or mistyped field. Members the
        /// schema does not know are ignored (a newer server may add fields).</summary>
        public static ServerMessage Parse(string text)
        {
            JsonValue v;
            try { v = JsonValue.Parse(text); }
            catch (JsonException e) { throw new ProtocolException("server sent " + e.Message, e); }
            return ServerMessages.Decode(v);
        }
    }

    /// <summary>A message to the server (a JSON text frame).</summary>
    public abstract class ClientMessage : ProtocolObject
    {
        public abstract string Type { get; }

        /// <summary>Check the schema's constraints (lengths, ranges, patterns, enums) before sending, so
        /// a mistake is reported here rather than as the server's VALIDATION_ERROR.</summary>
        public virtual void Validate() { }

        /// <summary>The text frame: validated, compact, null members left out.</summary>
        public string Encode()
        {
            Validate();
            return ToJson(true);
        }
    }

    /// <summary>Helpers the generated decoders and validators use (not meant for application code).</summary>
    public static class Field
    {
        public static void ExpectObject(JsonValue o, string where)
        {
            if (o == null || o.Kind != JsonKind.Object)
                throw new ProtocolException(where + ": expected an object, got " + Describe(o));
        }

        public static JsonValue Get(JsonValue o, string key, bool required, string where)
        {
            var v = o.Get(key);
            if (v == null && required) throw new ProtocolException(where + ": missing required field '" + key + "'");
            return v;
        }

        private static string Describe(JsonValue v)
        {
            return v == null ? "nothing" : JsonValue.KindName(v.Kind);
        }

        private static ProtocolException Wrong(JsonValue v, string what, string where, string key)
        {
            return new ProtocolException(where + "." + key + ": expected " + what + ", got " + Describe(v));
        }

        public static string String(JsonValue v, bool nullable, string where, string key)
        {
            if (v.IsNull && nullable) return null;
            if (v.Kind != JsonKind.String) throw Wrong(v, nullable ? "a string or null" : "a string", where, key);
            return v.AsString;
        }

        public static int Int(JsonValue v, string where, string key)
        {
            if (v.Kind != JsonKind.Number) throw Wrong(v, "an integer", where, key);
            double d = v.AsDouble;
            if (d != Math.Floor(d) || d < int.MinValue || d > int.MaxValue)
                throw new ProtocolException(where + "." + key + ": expected a 32-bit integer, got " + v.ToJson());
            return (int)d;
        }

        public static int? NullableInt(JsonValue v, string where, string key)
        {
            if (v.IsNull) return null;
            return Int(v, where, key);
        }

        public static double Double(JsonValue v, string where, string key)
        {
            if (v.Kind != JsonKind.Number) throw Wrong(v, "a number", where, key);
            return v.AsDouble;
        }

        public static double? NullableDouble(JsonValue v, string where, string key)
        {
            if (v.IsNull) return null;
            return Double(v, where, key);
        }

        public static bool Bool(JsonValue v, string where, string key)
        {
            if (v.Kind != JsonKind.Bool) throw Wrong(v, "a boolean", where, key);
            return v.AsBool;
        }

        public static bool? NullableBool(JsonValue v, string where, string key)
        {
            if (v.IsNull) return null;
            return Bool(v, where, key);
        }

        public static T Object<T>(JsonValue v, bool nullable, Func<JsonValue, T> decode, string where, string key) where T : class
        {
            if (v.IsNull && nullable) return null;
            if (v.Kind != JsonKind.Object) throw Wrong(v, "an object", where, key);
            return decode(v);
        }

        public static List<T> List<T>(JsonValue v, bool nullable, Func<JsonValue, string, T> item, string where, string key)
        {
            if (v.IsNull && nullable) return null;
            if (v.Kind != JsonKind.Array) throw Wrong(v, "an array", where, key);
            var list = new List<T>(v.Count);
            for (int i = 0; i < v.Count; i++) list.Add(item(v.Items[i], where + "." + key + "[" + i + "]"));
            return list;
        }

        public static Dictionary<string, string> StringMap(JsonValue v, bool nullable, string where, string key)
        {
            if (v.IsNull && nullable) return null;
            if (v.Kind != JsonKind.Object) throw Wrong(v, "an object of strings", where, key);
            var map = new Dictionary<string, string>();
            foreach (var m in v.Members) map[m.Key] = String(m.Value, false, where + "." + key, m.Key);
            return map;
        }

        /// <summary>A value of a union the schema allows (e.g. string | integer); kept as JSON.</summary>
        public static JsonValue Union(JsonValue v, JsonKind[] kinds, bool integerOnly, string where, string key)
        {
            if (v.IsNull) return null;
            foreach (var k in kinds)
            {
                if (v.Kind == k && (k != JsonKind.Number || !integerOnly || v.IsIntegral)) return v;
            }
            throw Wrong(v, "one of the allowed kinds", where, key);
        }

        public static string Enum(string value, string[] allowed, string where, string key)
        {
            if (value == null) return null;
            if (Array.IndexOf(allowed, value) < 0)
                throw new ProtocolException(where + "." + key + ": '" + value + "' is not one of " + string.Join(", ", allowed));
            return value;
        }

        // -------------------------------------------------------------- encoding
        public static JsonValue Encode(string s) { return s == null ? JsonValue.Null : JsonValue.String(s); }
        public static JsonValue Encode(int i) { return JsonValue.Number((long)i); }
        public static JsonValue Encode(int? i) { return i.HasValue ? JsonValue.Number((long)i.Value) : JsonValue.Null; }
        public static JsonValue Encode(double d) { return JsonValue.Number(d); }
        public static JsonValue Encode(double? d) { return d.HasValue ? JsonValue.Number(d.Value) : JsonValue.Null; }
        public static JsonValue Encode(bool b) { return JsonValue.Bool(b); }
        public static JsonValue Encode(bool? b) { return b.HasValue ? JsonValue.Bool(b.Value) : JsonValue.Null; }
        public static JsonValue Encode(JsonValue v) { return v ?? JsonValue.Null; }
        public static JsonValue Encode(ProtocolObject o, bool omitNulls) { return o == null ? JsonValue.Null : o.ToJsonValue(omitNulls); }

        public static JsonValue Encode(List<int> list)
        {
            if (list == null) return JsonValue.Null;
            var a = JsonValue.NewArray();
            foreach (var i in list) a.Add(JsonValue.Number((long)i));
            return a;
        }

        public static JsonValue Encode(List<string> list)
        {
            if (list == null) return JsonValue.Null;
            var a = JsonValue.NewArray();
            foreach (var s in list) a.Add(Encode(s));
            return a;
        }

        public static JsonValue Encode<T>(List<T> list, bool omitNulls) where T : ProtocolObject
        {
            if (list == null) return JsonValue.Null;
            var a = JsonValue.NewArray();
            foreach (var o in list) a.Add(Encode(o, omitNulls));
            return a;
        }

        public static JsonValue Encode(Dictionary<string, string> map)
        {
            if (map == null) return JsonValue.Null;
            var keys = new List<string>(map.Keys);
            keys.Sort(string.CompareOrdinal);
            var o = JsonValue.NewObject();
            foreach (var k in keys) o.Set(k, Encode(map[k]));
            return o;
        }

        public static void Put(JsonValue o, string key, JsonValue v, bool omitNulls)
        {
            if (omitNulls && v.IsNull) return;
            o.Set(key, v);
        }

        // -------------------------------------------------------------- validation
        private static int CodePoints(string s)
        {
            int n = 0;
            for (int i = 0; i < s.Length; i++)
            {
                if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
                n++;
            }
            return n;
        }

        public static void Length(string s, int min, int max, string where, string key)
        {
            if (s == null) return;
            int n = CodePoints(s);
            if (n < min) throw new ProtocolException(where + "." + key + ": at least " + min + " character(s) needed, got " + n);
            if (n > max) throw new ProtocolException(where + "." + key + ": at most " + max + " characters allowed, got " + n);
        }

        public static void Range(double? v, double min, double max, string where, string key)
        {
            if (!v.HasValue) return;
            if (double.IsNaN(v.Value) || v.Value < min || v.Value > max)
                throw new ProtocolException(where + "." + key + ": " + v.Value.ToString(CultureInfo.InvariantCulture) +
                                            " is outside [" + min.ToString(CultureInfo.InvariantCulture) + ", " +
                                            max.ToString(CultureInfo.InvariantCulture) + "]");
        }

        public static void Pattern(string s, Regex pattern, string where, string key)
        {
            if (s == null) return;
            if (!pattern.IsMatch(s)) throw new ProtocolException(where + "." + key + ": '" + s + "' does not match " + pattern);
        }

        public static void Required(object v, string where, string key)
        {
            if (v == null) throw new ProtocolException(where + "." + key + " is required");
        }
    }
}
