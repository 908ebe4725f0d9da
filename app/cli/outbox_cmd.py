"""`ql-station outbox`: what the station owes the instance, and what needs a person.

    ql-station outbox [--json]                      list queued pushes and refused ones needing attention
    ql-station outbox send [--json]                 send the queued pushes now
    ql-station outbox move ENTRY                    push a refused ID again, moving the device to its batch
    ql-station outbox rebatch ENTRY BATCH           push a refused ID to another batch instead
    ql-station outbox discard ENTRY --reason TEXT   give a refused ID up; the reason is kept

`send` exits with status 3 while DeviceIDs stay queued (the instance could not be reached), so a script
can retry. Queued pushes are sent with the idempotency key made when they were queued, so `send` may be run as
often as wanted: the instance counts each DeviceID once.
"""

from __future__ import annotations

import argparse

from app.cli.context import CliContext
from app.cli.table import print_table
from app.provisioning.device_journal import AttentionAction, JournalEntry, JournalState
from app.provisioning.device_push import deliver_owed, log_discard
from app.provisioning.records import RecordsDB

LISTED = 1000  # entries listed per kind; counts cover all


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("outbox", help="DeviceIDs waiting for the instance, and refused ones")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=list_command)
    inner = parser.add_subparsers(dest="outbox_command", metavar="ACTION")
    send = inner.add_parser("send", help="send the queued DeviceIDs now")
    send.add_argument("--json", action="store_true", help="print JSON")
    send.set_defaults(handler=send_command)
    move = inner.add_parser("move", help="push a refused DeviceID again, moving the device into its batch")
    move.add_argument("entry", type=int, metavar="ENTRY", help="the entry number `outbox` shows")
    move.set_defaults(handler=act_command, action=AttentionAction.MOVE)
    rebatch = inner.add_parser("rebatch", help="push a refused DeviceID to another batch")
    rebatch.add_argument("entry", type=int, metavar="ENTRY")
    rebatch.add_argument("batch", metavar="BATCH")
    rebatch.set_defaults(handler=act_command, action=AttentionAction.REBATCH)
    discard = inner.add_parser("discard", help="give a refused DeviceID up, saying why")
    discard.add_argument("entry", type=int, metavar="ENTRY")
    discard.add_argument("--reason", required=True, help="why (kept with the entry)")
    discard.set_defaults(handler=act_command, action=AttentionAction.DISCARD)


def list_command(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.data_dir.ensure()
    with RecordsDB(ctx.data_dir.records_db) as records:
        owed = records.journal.owed(limit=LISTED)
        owed_total = records.journal.count(JournalState.JOURNALED, JournalState.QUEUED)
        attention = records.journal.needs_attention(limit=LISTED)
    if args.json:
        ctx.print_json(
            {
                "queued": owed_total,
                "needs_attention": len(attention),
                "entries": [_as_json(e, "queued") for e in owed]
                + [_as_json(e, "needs attention") for e in attention],
            }
        )
        return 0
    if not owed and not attention:
        ctx.out.write("The outbox is empty: the instance has every DeviceID this station received.\n")
        return 0
    if owed:
        ctx.out.write(f"Queued for the instance: {owed_total}\n")
        print_table(
            ctx.out,
            ["Entry", "DeviceID", "Batch", "Since (UTC)", "Tries", "Last reason"],
            [_row(e) for e in owed],
        )
    if attention:
        ctx.out.write(f"\nNeeds attention (refused by the instance): {len(attention)}\n")
        print_table(
            ctx.out,
            ["Entry", "DeviceID", "Batch", "Since (UTC)", "Tries", "Reason"],
            [_row(e) for e in attention],
        )
        ctx.out.write(
            "\nDecide for each: `outbox move ENTRY`, `outbox rebatch ENTRY BATCH` or "
            "`outbox discard ENTRY --reason TEXT`.\n"
        )
    return 0


def send_command(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.data_dir.ensure()
    with RecordsDB(ctx.data_dir.records_db) as records:
        recovered, report = deliver_owed(ctx.open_instance(deliver=False), records.journal)
        attention = records.journal.count_needing_attention()
    if args.json:
        ctx.print_json(
            {
                "recovered": recovered,
                "sent": report.pushed,
                "refused": report.refused,
                "still_queued": report.still_queued,
                "needs_attention": attention,
                "unreachable": report.unreachable,
            }
        )
    else:
        if recovered:
            ctx.out.write(f"{recovered} DeviceID(s) left unpushed by a stopped station were queued\n")
        ctx.out.write(
            f"outbox: {report.pushed} sent, {report.refused} refused, {report.still_queued} still queued\n"
        )
        if report.unreachable:
            ctx.out.write(f"the instance could not be reached: {report.unreachable}\n")
        if attention:
            ctx.out.write(f"{attention} refused DeviceID(s) need attention: see `ql-station outbox`\n")
    return 0 if not report.still_queued else 3


def act_command(ctx: CliContext, args: argparse.Namespace) -> int:
    ctx.data_dir.ensure()
    action: AttentionAction = args.action
    with RecordsDB(ctx.data_dir.records_db) as records:
        if action is AttentionAction.DISCARD:
            log_discard(ctx.open_instance(), records.journal, args.entry, args.reason)
        successor = records.journal.act(
            args.entry,
            action,
            batch=getattr(args, "batch", ""),
            reason=getattr(args, "reason", "") or "",
            operator=ctx.actor or "",
        )
    if successor is None:
        ctx.out.write(f"entry {args.entry} discarded\n")
    else:
        ctx.out.write(
            f"entry {args.entry}: DeviceID {successor.device_id} queued for batch {successor.batch!r} as "
            f"entry {successor.id}; it is sent with `ql-station outbox send`\n"
        )
    return 0


def _row(entry: JournalEntry) -> tuple[str, ...]:
    return (
        str(entry.id),
        entry.device_id,
        entry.batch,
        entry.received_at.isoformat(timespec="seconds"),
        str(entry.attempts),
        entry.reason or "-",
    )


def _as_json(entry: JournalEntry, kind: str) -> dict[str, object]:
    return {
        "entry": entry.id,
        "kind": kind,
        "device_id": entry.device_id,
        "batch": entry.batch,
        "move": entry.move,
        "state": entry.state.value,
        "received_at": entry.received_at.isoformat(),
        "attempts": entry.attempts,
        "reason": entry.reason,
        "port": entry.port,
        "mac": entry.mac,
        "task": entry.task,
    }
