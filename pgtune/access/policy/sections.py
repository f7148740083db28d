"""Reading the top-level sections that describe roles and the managed databases."""

from datetime import UTC, date, datetime
from typing import Literal

from pgtune.access.model import PUBLIC, PUBLIC_KEYWORD, Membership, Role
from pgtune.access.policy.document import (
    BUILTIN_PROFILES,
    KINDS,
    DatabaseSpec,
    DefaultGrant,
    PolicySettings,
    Privileges,
    Profile,
    SchemaSpec,
    canonical_privileges,
)
from pgtune.access.policy.names import name_problem, role_name_problem
from pgtune.access.policy.reading import (
    Reader,
    flag,
    items,
    mapping,
    optional_flag,
    strings,
    text,
)
from pgtune.access.policy.yaml_source import Path, describe

# A membership as written, with where it was written (for duplicate and version messages).
WrittenMembership = tuple[Membership, Path]


def read_settings(data: dict[str, object]) -> PolicySettings:
    raw = mapping(data.get("settings"))
    return PolicySettings(
        drop_unmanaged_roles=flag(raw.get("drop_unmanaged_roles"), False),
        manage_ownership=flag(raw.get("manage_ownership"), False),
        revoke_public_function_execute=flag(raw.get("revoke_public_function_execute"), False),
        unmanaged_roles=_unmanaged_roles(raw.get("unmanaged_roles")),
    )


def _unmanaged_roles(value: object) -> Literal["report", "revoke", "ignore"]:
    # Any other value is reported by the schema check.
    if value == "revoke":
        return "revoke"
    return "ignore" if value == "ignore" else "report"


def _valid_until(reader: Reader, value: object, path: Path) -> str | None:
    """The canonical form: UTC ISO 8601 (``2027-01-01T00:00:00+00:00``); None = no expiry."""
    if not isinstance(value, str):
        return None
    written = value.strip()
    if written.lower() == "infinity":
        return None
    try:
        # A bare date means midnight UTC; a timestamp must say its zone, since the server
        # would otherwise read it in its own TimeZone and the plan would depend on it.
        moment = datetime.combine(date.fromisoformat(written), datetime.min.time(), UTC)
    except ValueError:
        try:
            moment = datetime.fromisoformat(written)
        except ValueError:
            reader.problem(
                path,
                f"{describe(path)}: {value!r} is not an ISO 8601 timestamp "
                "(e.g. 2027-01-01T00:00:00Z) or 'infinity'",
            )
            return None
        if moment.tzinfo is None:
            reader.problem(
                path, f"{describe(path)}: {value!r} needs a time zone (e.g. {written}Z or +02:00)"
            )
            return None
    return moment.astimezone(UTC).isoformat()


def _setting_value(value: object) -> str:
    # The server stores ALTER ROLE ... SET values as text: true → 'true', 30 → '30'.
    return str(value).lower() if isinstance(value, bool) else str(value)


def _limit(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else -1


def read_roles(
    reader: Reader, data: dict[str, object]
) -> tuple[dict[str, Role], list[WrittenMembership]]:
    """The roles, and the memberships their ``member_of`` shorthand stands for."""
    roles: dict[str, Role] = {}
    memberships: list[WrittenMembership] = []
    for name, raw in mapping(data.get("roles")).items():
        path: Path = ("roles", name)
        why = role_name_problem(name)
        if why:
            reader.problem(path, why)
        spec = mapping(raw)
        roles[name] = Role(
            name=name,
            login=flag(spec.get("login"), False),
            superuser=flag(spec.get("superuser"), False),
            createdb=flag(spec.get("createdb"), False),
            createrole=flag(spec.get("createrole"), False),
            replication=flag(spec.get("replication"), False),
            bypassrls=flag(spec.get("bypassrls"), False),
            inherit=flag(spec.get("inherit"), True),
            connection_limit=_limit(spec.get("connection_limit")),
            valid_until=_valid_until(reader, spec.get("valid_until"), (*path, "valid_until")),
            settings=tuple(
                sorted((k, _setting_value(v)) for k, v in mapping(spec.get("settings")).items())
            ),
            password_env=text(spec.get("password_env")),
            comment=text(spec.get("comment")),
        )
        for index, group in enumerate(items(spec.get("member_of"))):
            if isinstance(group, str):
                item: Path = (*path, "member_of", index)
                memberships.append((Membership(group, name), item))
                reader.reference(group, item, "group", predefined_ok=True)
    return roles, memberships


def read_memberships(reader: Reader, data: dict[str, object]) -> list[WrittenMembership]:
    written: list[WrittenMembership] = []
    for index, raw in enumerate(items(data.get("memberships"))):
        path: Path = ("memberships", index)
        spec = mapping(raw)
        group, member = text(spec.get("group")), text(spec.get("member"))
        if group is None or member is None:
            continue  # the schema check has said what is missing
        written.append(
            (
                Membership(
                    group,
                    member,
                    admin=flag(spec.get("admin"), False),
                    inherit=optional_flag(spec.get("inherit")),
                    set=optional_flag(spec.get("set")),
                ),
                path,
            )
        )
        reader.reference(group, (*path, "group"), "group", predefined_ok=True)
        reader.reference(member, (*path, "member"), "member")
    return written


def read_databases(reader: Reader, data: dict[str, object]) -> dict[str, DatabaseSpec]:
    databases: dict[str, DatabaseSpec] = {}
    for name, raw in mapping(data.get("databases")).items():
        path: Path = ("databases", name)
        why = name_problem(name)
        if why:
            reader.problem(path, f"database {why}")
        spec = mapping(raw)
        schemas: dict[str, SchemaSpec] = {}
        for schema, schema_raw in mapping(spec.get("schemas")).items():
            schema_path: Path = (*path, "schemas", schema)
            why = name_problem(schema)
            if why:
                reader.problem(schema_path, f"schema {why}")
            schema_spec = mapping(schema_raw)
            owner = text(schema_spec.get("owner"))
            if owner is not None:
                # pg_database_owner owns schema public from PostgreSQL 15 on.
                reader.reference(owner, (*schema_path, "owner"), "owner", predefined_ok=True)
            schemas[schema] = SchemaSpec(
                schema,
                canonical_privileges("schema", strings(schema_spec.get("revoke_public"))),
                owner,
                reader.line(schema_path),
            )
        databases[name] = DatabaseSpec(
            name,
            canonical_privileges("database", strings(spec.get("revoke_public"))),
            schemas,
            reader.line(path),
        )
    return databases


def read_privileges(raw: object) -> Privileges:
    spec = mapping(raw)
    return Privileges(*(canonical_privileges(kind, strings(spec.get(kind))) for kind in KINDS))


def read_profiles(reader: Reader, data: dict[str, object]) -> dict[str, Profile]:
    profiles = dict(BUILTIN_PROFILES)
    for name, raw in mapping(data.get("profiles")).items():
        path: Path = ("profiles", name)
        if name in BUILTIN_PROFILES:
            reader.problem(path, f"profile {name!r} is built in; give yours another name")
            continue
        member_of = strings(mapping(raw).get("member_of"))
        for index, group in enumerate(member_of):
            reader.reference(group, (*path, "member_of", index), "group", predefined_ok=True)
        profiles[name] = Profile(name, read_privileges(raw), tuple(sorted(set(member_of))))
    return profiles


def read_default_grants(reader: Reader, data: dict[str, object]) -> tuple[DefaultGrant, ...]:
    grants: list[DefaultGrant] = []
    for index, raw in enumerate(items(mapping(data.get("default_privileges")).get("grants"))):
        path: Path = ("default_privileges", "grants", index)
        spec = mapping(raw)
        owner, role, database = (text(spec.get(k)) for k in ("owner", "role", "database"))
        if owner is None or role is None or database is None:
            continue  # the schema check has said what is missing
        reader.reference(owner, (*path, "owner"), "default privileges owner")
        reader.reference(role, (*path, "role"), "role", public_ok=True)
        grant_option = flag(spec.get("grant_option"), False)
        if role == PUBLIC_KEYWORD:
            role = PUBLIC  # the pseudo-role (model.PUBLIC), never a role of that name
            if grant_option:
                # PostgreSQL: "grant options can only be granted to roles"
                reader.problem((*path, "grant_option"), "PUBLIC cannot hold a grant option")
        # Not written: the owner's global default privileges (no IN SCHEMA).
        schemas = tuple(strings(spec.get("schemas"))) if "schemas" in spec else None
        grants.append(
            DefaultGrant(
                owner,
                role,
                database,
                schemas,
                read_privileges(spec.get("privileges")),
                grant_option,
                reader.line(path),
            )
        )
    return tuple(grants)


def read_default_owners(reader: Reader, data: dict[str, object]) -> tuple[str, ...]:
    owners = strings(mapping(data.get("default_privileges")).get("owners"))
    for index, owner in enumerate(owners):
        reader.reference(owner, ("default_privileges", "owners", index), "default privileges owner")
    return tuple(sorted(set(owners)))
