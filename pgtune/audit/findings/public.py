"""What PUBLIC holds, picked from the snapshot's grants once per check that asks."""

from pgtune.audit.model import Snapshot


def public_creatable_schemas(snapshot: Snapshot) -> set[tuple[str, str]]:
    """(database, schema) pairs where PUBLIC holds CREATE."""
    return {
        (g.object.database, g.object.schema or "")
        for g in snapshot.public_grants
        if g.object.kind == "schema" and g.privilege == "CREATE"
    }


def public_executable(snapshot: Snapshot) -> set[tuple[str, str, str, str]]:
    """(database, schema, name, args) of the functions PUBLIC may execute."""
    return {
        (g.object.database, g.object.schema or "", g.object.name or "", g.object.args or "")
        for g in snapshot.public_grants
        if g.object.kind == "function" and g.privilege == "EXECUTE"
    }
