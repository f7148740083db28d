"""Changes since the last review: a cluster's report section against the previous report's.

Both sides are report documents (report.py), so a baseline is simply the JSON the previous run
wrote. Compared, per cluster (matched by the server's system identifier, see
:func:`baseline_section`):

- roles added and removed (every role but the predefined ones), attribute changes;
- per login role present in both reviews: memberships gained and lost (by role and how: a
  membership that turns from inherited to SET ROLE only is one lost and one gained), and
  privileges gained and lost, grouped like the review;
- findings new and resolved, matched by (id, database, object).

Privileges are compared per (database, schema, kind, privilege) on the exact object sets the
review stores (``all`` / ``all_but`` / ``some``). "All tables" stays "all tables" when a table
is created: that is not a change of what the role may do, only of what exists. Where a privilege
comes from (``via``) is not compared, only whether it is held. Superusers hold everything: their
privileges are not compared (the attribute change says it all).
"""

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pgtune.audit.report import Doc, finding_sort_key

_ROLE_ATTRIBUTE_ORDER = (
    "login",
    "superuser",
    "createdb",
    "createrole",
    "replication",
    "bypassrls",
    "inherit",
    "connection_limit",
    "valid_until",
)


@dataclass(frozen=True)
class ObjectSet:
    """Objects of one kind in one schema: all of them, all but ``names``, or just ``names``."""

    scope: str  # "all", "all_but", "some"
    names: frozenset[str]
    total: int
    # "all" of a few objects: the review lists them, which turns "all but a" into "b"
    members: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def empty(self) -> bool:
        return self.scope == "some" and not self.names

    @property
    def count(self) -> int:
        if self.scope == "all":
            return self.total
        if self.scope == "all_but":
            return max(self.total - len(self.names), 0)
        return len(self.names)

    def union(self, other: "ObjectSet") -> "ObjectSet":
        total = max(self.total, other.total)
        a, b = sorted((self, other), key=lambda s: ("all", "all_but", "some").index(s.scope))
        if a.scope == "all":
            return ObjectSet("all", frozenset(), total, a.members | b.members)
        if a.scope == "all_but":
            if b.scope == "all_but":
                return ObjectSet("all_but", a.names & b.names, total)._normal()
            return ObjectSet("all_but", a.names - b.names, total)._normal()
        return ObjectSet("some", a.names | b.names, total)

    def minus(self, other: "ObjectSet") -> "ObjectSet":
        """What ``self`` holds that ``other`` does not (total from ``self``)."""
        nothing = ObjectSet("some", frozenset(), self.total)
        if other.scope == "all":
            return nothing
        if self.scope == "all" and self.members:
            return ObjectSet("some", self.members, self.total).minus(other)
        if self.scope == "some":
            kept = self.names - other.names if other.scope == "some" else self.names & other.names
            return ObjectSet("some", kept, self.total)
        if other.scope == "all_but":  # all (but E1) minus all but E2: E2's objects not in E1
            return ObjectSet("some", other.names - self.names, self.total)
        return ObjectSet("all_but", self.names | other.names, self.total)._normal()

    def _normal(self) -> "ObjectSet":
        return ObjectSet("all", frozenset(), self.total) if not self.names else self


NOTHING = ObjectSet("some", frozenset(), 0)
PrivKey = tuple[bool, str, str | None, str, str]  # set_role, database, schema, kind, privilege


def object_set(group: Mapping[str, Any]) -> ObjectSet:
    scope = group["scope"]
    names = group.get("except") if scope == "all_but" else group.get("objects")
    if scope == "all":
        return ObjectSet("all", frozenset(), int(group["total"]), frozenset(names or ()))
    return ObjectSet(scope, frozenset(names or ()), int(group["total"]))


def privilege_index(review: Mapping[str, Any]) -> dict[PrivKey, ObjectSet]:
    index: dict[PrivKey, ObjectSet] = {}
    for set_role, key in ((False, "privileges"), (True, "set_role_privileges")):
        for group in review.get(key) or ():
            objects = object_set(group)
            for privilege in group["privileges"]:
                k = (set_role, group["database"], group["schema"], group["kind"], privilege)
                index[k] = index[k].union(objects) if k in index else objects
    return index


def _deltas(role: str, change: str, delta: Mapping[PrivKey, ObjectSet]) -> list[Doc]:
    """Regroup per-privilege deltas: identical object sets share one line."""
    grouped: dict[tuple[Any, ...], list[str]] = defaultdict(list)
    for (set_role, db, schema, kind, privilege), objects in delta.items():
        if not objects.empty:
            key = (set_role, db, schema, kind, objects.scope, objects.names, objects.total)
            grouped[key].append(privilege)
    out: list[Doc] = []
    for (set_role, db, schema, kind, scope, names, total), privileges in grouped.items():
        objects = ObjectSet(scope, names, total)
        out.append(
            {
                "role": role,
                "change": change,
                "set_role": set_role,
                "database": db,
                "schema": schema,
                "kind": kind,
                "privileges": _in_order(privileges, kind),
                "scope": scope,
                "count": objects.count,
                "total": total,
                "objects": sorted(names) if scope == "some" else [],
                "except": sorted(names) if scope == "all_but" else [],
            }
        )
    return out


def _in_order(privileges: Iterable[str], kind: str) -> list[str]:
    from pgtune.access.model import PRIVILEGES

    known = PRIVILEGES.get(kind, ())
    return sorted(privileges, key=lambda p: (known.index(p) if p in known else 99, p))


def privilege_changes(role: str, before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Doc]:
    old, new = privilege_index(before), privilege_index(after)
    gained = {k: v.minus(old.get(k, NOTHING)) for k, v in new.items()}
    lost = {k: v.minus(new.get(k, NOTHING)) for k, v in old.items()}
    return _deltas(role, "gained", gained) + _deltas(role, "lost", lost)


def _membership_changes(
    role: str, before: Mapping[str, Any], after: Mapping[str, Any]
) -> list[Doc]:
    def held(review: Mapping[str, Any]) -> dict[tuple[str, str], list[str]]:
        return {(m["role"], m["how"]): m["path"] for m in review.get("memberships") or ()}

    old, new = held(before), held(after)
    return [
        {"role": role, "change": "gained", "member_of": r, "how": how, "path": new[(r, how)]}
        for r, how in sorted(new.keys() - old.keys())
    ] + [
        {"role": role, "change": "lost", "member_of": r, "how": how, "path": old[(r, how)]}
        for r, how in sorted(old.keys() - new.keys())
    ]


def _finding_key(f: Mapping[str, Any]) -> tuple[str, str, str]:
    return (f["id"], f.get("database") or "", f.get("object") or "")


def _finding_changes(before: list[Doc], after: list[Doc]) -> tuple[list[Doc], list[Doc]]:
    """(new, resolved): a multiset difference, so two instances of one key count twice."""

    def pick(source: list[Doc], minus: list[Doc]) -> list[Doc]:
        budget = Counter(_finding_key(f) for f in minus)
        out = []
        for f in source:
            key = _finding_key(f)
            if budget[key]:
                budget[key] -= 1
            else:
                out.append(f)
        return sorted(out, key=finding_sort_key)

    return pick(after, before), pick(before, after)


def _empty_changes(source: str, note: str | None, before: Mapping[str, Any] | None) -> Doc:
    return {
        "baseline": source,
        "baseline_collected_at": before.get("collected_at") if before else None,
        "note": note,
        "roles_added": [],
        "roles_removed": [],
        "attributes": [],
        "memberships": [],
        "privileges": [],
        "findings_new": [],
        "findings_resolved": [],
    }


def diff_cluster(before: Mapping[str, Any] | None, after: Mapping[str, Any], source: str) -> Doc:
    """The changes of one cluster section since ``before`` (None: not in the baseline)."""
    if before is None:
        return _empty_changes(source, "Not in the baseline: nothing to compare with", None)
    if before.get("status") != "ok":
        return _empty_changes(source, "Could not be audited at the last review", before)
    if after.get("status") != "ok":
        return _empty_changes(source, "Could not be audited now", before)
    changes = _empty_changes(source, None, before)
    old_roles, new_roles = before.get("roles") or {}, after.get("roles") or {}
    changes["roles_added"] = sorted(new_roles.keys() - old_roles.keys())
    changes["roles_removed"] = sorted(old_roles.keys() - new_roles.keys())
    for name in sorted(old_roles.keys() & new_roles.keys()):
        for attribute in _ROLE_ATTRIBUTE_ORDER:
            was, now = old_roles[name].get(attribute), new_roles[name].get(attribute)
            if was != now:
                changes["attributes"].append(
                    {"role": name, "attribute": attribute, "before": was, "after": now}
                )
    old_reviews = {r["role"]: r for r in before.get("review") or ()}
    for review in after.get("review") or ():
        name = review["role"]
        previous = old_reviews.get(name)
        if previous is None:
            continue  # a new login role: the review shows all it holds
        changes["memberships"] += _membership_changes(name, previous, review)
        if not (review["attributes"].get("superuser") or previous["attributes"].get("superuser")):
            changes["privileges"] += privilege_changes(name, previous, review)
    changes["findings_new"], changes["findings_resolved"] = _finding_changes(
        list(before.get("findings") or ()), list(after.get("findings") or ())
    )
    return changes


def baseline_section(
    baseline: Mapping[str, Any], current: Mapping[str, Any] | str
) -> Mapping[str, Any] | None:
    """The baseline's section about the cluster of ``current`` (a section, or a bare label).

    The server's system identifier decides, not the DSN's text: a keyword DSN against a URI,
    a password added or removed, another auditing role all keep the history. Among several
    sections with one identifier (a primary and its standbys) the address picks, then the
    label. Without an identifier on either side (not readable, a baseline written before
    identities) the address matches, then the label, never a section naming another cluster.
    """
    if isinstance(current, str):
        current = {"cluster": current}
    sysid, address, label = (current.get(k) for k in ("system_identifier", "address", "cluster"))
    clusters = [c for c in baseline.get("clusters") or () if isinstance(c, Mapping)]

    def one_of(candidates: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
        if len(candidates) == 1:
            return candidates[0]
        for key, value in (("address", address), ("cluster", label)):
            narrowed = [c for c in candidates if value is not None and c.get(key) == value]
            if len(narrowed) == 1:
                return narrowed[0]
        return None

    if sysid:
        same = [c for c in clusters if c.get("system_identifier") == sysid]
        if same:
            return one_of(same)
        clusters = [c for c in clusters if not c.get("system_identifier")]
    if address:
        same = [c for c in clusters if c.get("address") == address]
        if same:
            return one_of(same)
    return one_of([c for c in clusters if c.get("cluster") == label])


def has_changes(changes: Mapping[str, Any]) -> bool:
    keys = ("roles_added", "roles_removed", "attributes", "memberships", "privileges")
    return any(changes.get(k) for k in (*keys, "findings_new", "findings_resolved"))
