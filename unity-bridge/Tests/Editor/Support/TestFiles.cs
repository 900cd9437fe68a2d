using System;
using System.IO;
using System.Runtime.CompilerServices;
using AvatarRealtime.Core.Json;
using NUnit.Framework;

namespace AvatarRealtime.Tests
{
    /// <summary>Where the test vectors and the repository's protocol schema are.</summary>
    public static class TestFiles
    {
        /// <summary>Tests/Editor/Vectors, found from this source file's path (compile-time), so it
        /// works from the repository, from build/, and inside a Unity project's package cache
        /// (AVATAR_VECTORS_DIR overrides it).</summary>
        public static string VectorsDir()
        {
            var env = Environment.GetEnvironmentVariable("AVATAR_VECTORS_DIR");
            if (!string.IsNullOrEmpty(env)) return env;
            return Path.GetFullPath(Path.Combine(Here(), "..", "Vectors"));
        }

        /// <summary>This file's folder (Tests/Editor/Support), as the compiler saw it.</summary>
        private static string Here([CallerFilePath] string thisFile = "")
        {
            return Path.GetDirectoryName(thisFile);
        }

        public static JsonValue Vectors(string name)
        {
            var path = Path.Combine(VectorsDir(), name);
            Assert.That(File.Exists(path), "missing test vectors " + path);
            return JsonValue.Parse(File.ReadAllText(path));
        }

        /// <summary>docs/protocol.schema.json when the package sits in its repository (it does in
        /// CI); null inside a Unity project, which has only the package.</summary>
        public static string SchemaPath()
        {
            var env = Environment.GetEnvironmentVariable("AVATAR_PROTOCOL_SCHEMA");
            if (!string.IsNullOrEmpty(env)) return env;
            var p = Path.GetFullPath(Path.Combine(Here(), "..", "..", "..", "..", "docs", "protocol.schema.json"));
            return File.Exists(p) ? p : null;
        }
    }
}
