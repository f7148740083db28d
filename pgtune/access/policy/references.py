"""Cross-references: every role named must be defined (or be one PostgreSQL provides, where
that makes sense), and the memberships must form a set without duplicates or cycles."""

from itertools import pairwise

from pgtune.access.model import PUBLIC_KEYWORD, Membership
from pgtune.access.policy.names import is_predefined
from pgtune.access.policy.problems import Problem, did_you_mean
from pgtune.access.policy.reading import Reader, Reference
from pgtune.access.policy.sections import WrittenMembership


def _undefined(ref: Reference, defined: set[str]) -> str | None:
    if ref.name in defined:
        return None
    if ref.name == PUBLIC_KEYWORD:
        if ref.public_ok:
            return None
        # Grants to PUBLIC are what revoke_public takes away; pgtune never hands them out.
        return f"{ref.what}: PUBLIC is not allowed here, only a role defined under roles"
    if is_predefined(ref.name):
        if ref.predefined_ok:
            return None
        # The plan manages the memberships and grants of the roles it manages, which the
        # predefined roles are not.
        return (
            f"{ref.what}: predefined role {ref.name!r} is not allowed here, "
            "only a role defined under roles"
        )
    return f"role {ref.name!r} is not defined under roles{did_you_mean(ref.name, defined)}"


def check_references(reader: Reader, defined: set[str]) -> None:
    for ref in reader.references:
        message = _undefined(ref, defined)
        if message is not None:
            reader.problem(ref.path, message)


def merge_memberships(
    reader: Reader, written: list[WrittenMembership], from_profiles: list[WrittenMembership]
) -> dict[tuple[str, str], tuple[Membership, int | None]]:
    """One membership per (group, member). Writing one twice is a problem; a profile's
    membership (monitoring → pg_monitor) yields to one written out, whose options win."""
    merged: dict[tuple[str, str], tuple[Membership, int | None]] = {}
    for membership, path in written:
        key = (membership.group, membership.member)
        if membership.group == membership.member:
            reader.problem(path, f"role {membership.member!r} cannot be a member of itself")
        if key in merged:
            reader.problem(
                path,
                f"membership of {membership.member!r} in {membership.group!r} is given twice "
                f"(first on line {merged[key][1]})",
            )
            continue
        merged[key] = (membership, reader.line(path))
    for membership, path in from_profiles:
        merged.setdefault((membership.group, membership.member), (membership, reader.line(path)))
    _check_cycles(reader, merged)
    return merged


def _check_cycles(
    reader: Reader, merged: dict[tuple[str, str], tuple[Membership, int | None]]
) -> None:
    """PostgreSQL refuses a membership loop (a in b, b in a); say so before apply does."""
    groups_of: dict[str, list[str]] = {}
    for group, member in sorted(merged):
        groups_of.setdefault(member, []).append(group)
    state: dict[str, str] = {}  # "open" while on the current path, then "done"

    def visit(role: str, trail: list[str]) -> None:
        state[role] = "open"
        for group in groups_of.get(role, []):
            if state.get(group) == "open":
                loop = [*trail[trail.index(group) :], group]
                if len(loop) > 2:  # a role in itself is reported on its own
                    # Reported where the loop closes: the last of its memberships written.
                    written = [merged[(g, m)][1] for m, g in pairwise(loop)]
                    line = max((w for w in written if w is not None), default=None)
                    chain = " → ".join(repr(r) for r in loop)
                    reader.problems.append(Problem(line, f"membership loop: {chain}"))
            elif group not in state:
                visit(group, [*trail, group])
        state[role] = "done"

    for member in sorted(groups_of):
        if member not in state:
            visit(member, [member])
