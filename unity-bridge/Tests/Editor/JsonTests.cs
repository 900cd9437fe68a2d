using AvatarRealtime.Core.Json;
using NUnit.Framework;

namespace AvatarRealtime.Tests
{
    [TestFixture]
    public class JsonTests
    {
        [TestCase(0.1, "0.1")]
        [TestCase(120.0, "120.0")]
        [TestCase(-0.5, "-0.5")]
        [TestCase(1e-05, "1e-05")]
        [TestCase(0.0001, "0.0001")]
        [TestCase(1e16, "1e+16")]
        [TestCase(1.5e16, "1.5e+16")]
        [TestCase(123456789012345.6, "123456789012345.6")]
        [TestCase(0.30000000000000004, "0.30000000000000004")]
        [TestCase(1764400000123.5, "1764400000123.5")]
        [TestCase(5e-324, "5e-324")]
        [TestCase(0.0, "0.0")]
        public void Doubles_are_written_as_python_json_writes_them(double d, string expected)
        {
            Assert.AreEqual(expected, JsonValue.FormatDouble(d));
            Assert.AreEqual(d, JsonValue.Parse(expected).AsDouble);
        }

        [Test]
        public void Strings_escape_quotes_backslashes_and_control_characters_only()
        {
            var s = JsonValue.String("a\"b\\c\n\t\u0001\u007f 안녕 😀 /").ToJson();
            Assert.AreEqual("\"a\\\"b\\\\c\\n\\t\\u0001\u007f 안녕 😀 /\"", s);
            Assert.AreEqual("a\"b\\c\n\t\u0001\u007f 안녕 😀 /", JsonValue.Parse(s).AsString);
        }

        [Test]
        public void Parses_escapes_including_surrogate_pairs()
        {
            Assert.AreEqual("é😀/", JsonValue.Parse("\"\\u00e9\\ud83d\\ude00\\/\"").AsString);
        }

        [TestCase("", "unexpected end")]
        [TestCase("{", "expected a member name")]
        [TestCase("{\"a\":1,}", "expected a member name")]
        [TestCase("[1,2", "unterminated array")]
        [TestCase("\"abc", "unterminated string")]
        [TestCase("{\"a\":1}x", "unexpected text after")]
        [TestCase("01", "unexpected text after")]
        [TestCase("1.", "digits expected after '.'")]
        [TestCase("tru", "expected true")]
        [TestCase("{\"a\":1,\"a\":2}", "duplicate member 'a'")]
        [TestCase("\"a\u0001\"", "control character")]
        [TestCase("NaN", "unexpected character")]
        public void Rejects_invalid_json_saying_where(string text, string reason)
        {
            var e = Assert.Throws<JsonException>(() => JsonValue.Parse(text));
            StringAssert.Contains(reason, e.Message);
            StringAssert.Contains("offset", e.Message);
        }

        [Test]
        public void Rejects_deep_nesting()
        {
            var e = Assert.Throws<JsonException>(() => JsonValue.Parse(new string('[', 100) + new string(']', 100)));
            StringAssert.Contains("nested deeper", e.Message);
        }

        [Test]
        public void Integers_stay_exact_and_objects_keep_their_order()
        {
            var v = JsonValue.Parse("{\"z\":9007199254740993,\"a\":[true,false,null]}");
            Assert.AreEqual(9007199254740993L, v.Get("z").AsLong);
            Assert.AreEqual("{\"z\":9007199254740993,\"a\":[true,false,null]}", v.ToJson());
        }
    }
}
