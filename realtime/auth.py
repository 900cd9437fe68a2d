"""Who is asking: anonymous (one local user) or signed, expiring session tokens.

Tokens are JWTs signed with HMAC-SHA256 (PyJWT) over ``AVATAR_AUTH_SECRET``: ``sub`` is the user
id, ``exp`` the expiry. Mint one with::

    python -m realtime.auth mint --user alice --ttl 3600

REST takes ``Authorization: Bearer <token>``; the WebSocket takes the same header or, as browsers
cannot set headers there, ``/ws?token=<token>``.
"""

from __future__ import annotations

import argparse
import re
import sys
import time

import jwt

from realtime.errors import ApiError

ANONYMOUS_USER = "local"
_USER = re.compile(r"^[A-Za-z0-9_.@-]{1,128}$")


def mint(secret: str, user: str, ttl_s: int) -> str:
    if not _USER.match(user):
        raise ValueError("a user id is 1-128 of A-Z a-z 0-9 _ . @ -")
    now = int(time.time())
    return jwt.encode({"sub": user, "iat": now, "exp": now + int(ttl_s)}, secret,
                      algorithm="HS256")


def verify(secret: str, token: str) -> str:
    """-> the user id, or ``ApiError UNAUTHORIZED`` saying what is wrong."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError as exc:
        raise ApiError("UNAUTHORIZED", "the session token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise ApiError("UNAUTHORIZED", f"invalid session token: {exc}") from exc
    user = claims.get("sub")
    if not isinstance(user, str) or not _USER.match(user):
        raise ApiError("UNAUTHORIZED", "invalid session token: bad subject")
    return user


def resolve_user(settings, authorization: str | None, query_token: str | None = None) -> str:
    if settings.auth_mode == "anonymous":
        return ANONYMOUS_USER
    token = query_token
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError("UNAUTHORIZED", "use 'Authorization: Bearer <token>'")
        token = value.strip()
    if not token:
        raise ApiError("UNAUTHORIZED", "a session token is required (Authorization: Bearer ...)")
    return verify(settings.auth_secret, token)


def main(argv: list[str] | None = None) -> int:
    from realtime.config import Settings

    parser = argparse.ArgumentParser(prog="python -m realtime.auth",
                                     description="Mint or check session tokens")
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("mint", help="print a token for a user")
    m.add_argument("--user", required=True)
    m.add_argument("--ttl", type=int, default=None,
                   help="seconds (default AVATAR_AUTH_TOKEN_TTL_S)")
    v = sub.add_parser("verify", help="print the user a token belongs to")
    v.add_argument("token")
    args = parser.parse_args(argv)
    settings = Settings()
    if len(settings.auth_secret.encode()) < 32:
        print("set AVATAR_AUTH_SECRET (32+ bytes, e.g. `openssl rand -hex 32`) first", file=sys.stderr)
        return 2
    if args.cmd == "mint":
        print(mint(settings.auth_secret, args.user, args.ttl or settings.auth_token_ttl_s))
        return 0
    try:
        print(verify(settings.auth_secret, args.token))
    except ApiError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
