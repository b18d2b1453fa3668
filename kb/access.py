"""Access: which documents a user may read, and who the users are.

A document is public unless its manifest entry says otherwise: `access = "besloten"` (one group)
or `access = ["bestuur", "griffie"]` (any of these groups). Every chunk carries `access`
("openbaar" or the groups, comma-separated) and a flag `acc_<group>: 1` per group, so that both
search legs filter on it (kb.retrieve.Filters) exactly as they filter on programme lines.

Users and their groups live in a TOML file (`KB_USERS_FILE`, `kb serve --users FILE`), written by
`kb user add`; passwords are stored only as salted scrypt hashes:

    [users.anna]
    groups = ["besloten"]
    password = "scrypt$16384$8$1$<salt>$<hash>"

`groups` below is None for "no restriction" (an operator's local CLI) or the tuple of groups a
user belongs to: such a user sees public documents and those of their groups.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import os
import re
import tomllib
from pathlib import Path

PUBLIC = "openbaar"
FLAG = "acc_"  # chunk metadata key prefix: acc_<group> = 1
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# scrypt with n=2**14, r=8, p=1: about 16 MB and tens of milliseconds per check, once per login.
_N, _R, _P = 2**14, 8, 1


# --- documents ----------------------------------------------------------------------------------
def document_groups(value) -> list[str]:
    """The groups that may read a document, from its manifest `access` value; [] means public.
    A value that is not understood is an error, never silently public."""
    if value is None or value == PUBLIC or value == [PUBLIC]:
        return []
    groups = [value] if isinstance(value, str) else value
    if not isinstance(groups, list) or not groups or not all(isinstance(g, str) and _NAME.match(g) for g in groups):
        raise ValueError(f"Ongeldige waarde voor access in manifest.toml: {value!r}. Gebruik \"{PUBLIC}\", een "
                         f"groepsnaam (kleine letters, cijfers, - of _) of een lijst van groepsnamen.")
    return sorted(set(groups))


def chunk_access(groups: list[str]) -> dict:
    """The metadata every chunk of a document with these reader groups carries."""
    return {"access": ",".join(groups) or PUBLIC, **{f"{FLAG}{g}": 1 for g in groups}}


def visible(meta: dict, groups) -> bool:
    """May a user with `groups` (None: no restriction) read the chunk or document with this metadata?
    A chunk without an access field (an index built before access levels) is not public."""
    if groups is None:
        return True
    return meta.get("access") == PUBLIC or any(meta.get(f"{FLAG}{g}") == 1 for g in groups)


# --- users ----------------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P)
    return "$".join(["scrypt", str(_N), str(_R), str(_P), _b64(salt), _b64(digest)])


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return scheme == "scrypt" and hmac.compare_digest(got, expected)


@functools.cache
def _dummy() -> str:
    """Checked for unknown users, so a login takes as long whether or not the name exists."""
    return hash_password("")


class Users:
    """The users file: name -> (groups, password hash)."""

    def __init__(self, path: Path, users: dict[str, dict]):
        self.path, self.users = path, users

    @classmethod
    def load(cls, path: Path) -> "Users":
        path = Path(path)
        if not path.exists():
            return cls(path, {})
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path} is geen geldig gebruikersbestand (TOML): {exc}") from exc
        users = data.get("users", {})
        for name, entry in users.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("password"), str):
                raise ValueError(f"{path}: gebruiker '{name}' heeft geen wachtwoord-hash; gebruik `kb user add`.")
        return cls(path, users)

    def check(self, name: str, password: str) -> bool:
        """Gradio's login check."""
        entry = self.users.get(name)
        ok = check_password(password or "", entry["password"] if entry else _dummy())
        return ok and entry is not None

    def groups(self, name: str | None) -> tuple[str, ...]:
        """The user's groups; () for an unknown user or none logged in (public documents only)."""
        entry = self.users.get(name or "") or {}
        return tuple(g for g in entry.get("groups", []) if isinstance(g, str))

    def add(self, name: str, groups: list[str], password: str) -> None:
        """Add or replace a user and write the file (readable by its owner only)."""
        if not _NAME.match(name):
            raise ValueError(f"Ongeldige gebruikersnaam '{name}': kleine letters, cijfers, - of _ (max. 64).")
        if bad := [g for g in groups if not _NAME.match(g)]:
            raise ValueError(f"Ongeldige groepsnaam: {', '.join(bad)} (kleine letters, cijfers, - of _).")
        if len(password) < 8:
            raise ValueError("Het wachtwoord moet minstens 8 tekens hebben.")
        self.users[name] = {"groups": sorted(set(groups)), "password": hash_password(password)}
        self.save()

    def save(self) -> None:
        lines = ["# kb users: written by `kb user add`; passwords are salted scrypt hashes.", ""]
        for name, entry in sorted(self.users.items()):
            groups = ", ".join(f'"{g}"' for g in entry.get("groups", []))
            lines += [f"[users.{name}]", f"groups = [{groups}]", f'password = "{entry["password"]}"', ""]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text("\n".join(lines), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(self.path)
