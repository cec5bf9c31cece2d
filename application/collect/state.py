"""Resume state of an interrupted collect, kept in the output Storage (local folder or S3).

After every shard: the shard, then the dedup decisions made while filling it (a journal), then
`state/collect.json` naming how many tasks are done. The state file is the commit point: a run
killed anywhere restarts from the last one, rewriting any shard written after it.
"""
from __future__ import annotations

import hashlib
import json

from domain.errors import StorageError
from domain.ports import Storage

STATE = "state/collect.json"
STAGING = "state/staged/"  # a distributed executor's finished batches (its own resume state)


def journal_key(shard_index: int) -> str:
    return f"state/journal-{shard_index:05d}.bin"


def fingerprint(options: dict, sources: list[dict]) -> str:
    """Identity of a run: same options and same source commits resume, anything else restarts."""
    blob = json.dumps({"options": options, "sources": sources}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def load_state(storage: Storage, expected: str) -> dict | None:
    """The committed state of an interrupted run with the same fingerprint, else None."""
    if not storage.exists(STATE):
        return None
    try:
        state = json.loads(storage.read_bytes(STATE))
    except (json.JSONDecodeError, StorageError):
        return None
    return state if state.get("fingerprint") == expected else None


def encode_journal(journal: list[dict], skipped: list[dict] = ()) -> bytes:
    """JSON entries (and the files skipped meanwhile), a NUL, then the raw signature blobs they
    point to, each entry naming its blob's length (random bytes: no base64, no gzip)."""
    blobs = [entry["s"] for entry in journal if entry.get("s") is not None]
    entries = [{**entry, "s": len(entry["s"]) if entry["s"] is not None else None} if "s" in entry else entry
               for entry in journal]
    header = json.dumps({"entries": entries, "skipped": list(skipped)}).encode()
    return header + b"\0" + b"".join(blobs)


def decode_journal(data: bytes) -> tuple[list[dict], list[dict]]:
    """(dedup decisions, skipped files) of one shard's journal."""
    header, _, blob = data.partition(b"\0")
    meta = json.loads(header)
    offset, journal = 0, []
    for entry in meta["entries"]:
        if entry.get("s"):
            entry["s"], offset = blob[offset:offset + entry["s"]], offset + entry["s"]
        elif "s" in entry:
            entry["s"] = None
        journal.append(entry)
    return journal, meta.get("skipped", [])


def load_journal(storage: Storage, shard_index: int) -> tuple[list[dict], list[dict]]:
    return decode_journal(storage.read_bytes(journal_key(shard_index)))


def save_progress(storage: Storage, state: dict, shard_index: int, journal: list[dict],
                  skipped: list[dict] = ()) -> None:
    """Write the journal of shard `shard_index`, then the state that commits both."""
    storage.write_bytes(journal_key(shard_index), encode_journal(journal, skipped))
    storage.write_bytes(STATE, json.dumps(state, sort_keys=True).encode())


def clear_state(storage: Storage) -> None:
    for key in storage.list("state"):
        storage.delete(key)


def begin_staging(storage: Storage, run_id: str) -> bool:
    """True when `STAGING` holds the work of an interrupted run with this fingerprint (resume);
    otherwise clear what earlier runs left under state/ and claim it for this one."""
    key = f"{STAGING}run.json"
    if storage.exists(key):
        try:
            if json.loads(storage.read_bytes(key)).get("fingerprint") == run_id:
                return True
        except (json.JSONDecodeError, StorageError):
            pass
    clear_state(storage)
    storage.write_bytes(key, json.dumps({"fingerprint": run_id}).encode())
    return False
