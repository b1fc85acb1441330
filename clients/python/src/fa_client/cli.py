"""``fa``: align a whole corpus from the command line, the way ``mfa align`` does.

fa login                      # email and password (or --api-key), kept for next time
fa align CORPUS_DIR OUTPUT_DIR [--language en] [--format textgrid,json]
fa validate CORPUS_DIR        # which words have no pronunciation, before aligning
fa jobs | fa status JOB | fa download JOB OUTPUT_DIR | fa cancel JOB | fa quota
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from fa_client import config as settings
from fa_client.client import ApiError, Client, Credentials, UploadFile
from fa_client.corpus import RESULT_SUFFIXES, Corpus, Pair, batches, scan
from fa_client.models import Job, TokenPair

__all__ = ["main"]

REQUEST_BYTES = 1 << 30  # per job, well under the service's own request limit
console = Console(stderr=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        code: int = args.run(args)
    except ApiError as exc:
        console.print(f"[red]error[/red] {exc.code}: {exc.message}")
        if exc.status == 401:
            console.print("log in again with [bold]fa login[/bold]")
        return 1
    except KeyboardInterrupt:
        console.print("stopped; jobs already submitted go on (fa jobs lists them)")
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fa", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(title="commands")

    register = commands.add_parser("register", help="make an account (then: fa login)")
    register.add_argument("--url", help=f"the service (default {settings.DEFAULT_URL})")
    register.add_argument("--email")
    register.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    register.set_defaults(run=_register)

    login = commands.add_parser("login", help="keep the server and your credential")
    login.add_argument("--url", help=f"the service (default {settings.DEFAULT_URL})")
    login.add_argument("--email")
    login.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    login.add_argument("--api-key", help="use an API key instead of email and password")
    login.set_defaults(run=_login)

    align = commands.add_parser("align", help="align a corpus folder into an output folder")
    align.add_argument("corpus", type=Path)
    align.add_argument("output", type=Path)
    _job_options(align)
    align.add_argument(
        "--format",
        default="textgrid",
        help=f"comma-separated, of {', '.join(RESULT_SUFFIXES)} (default textgrid)",
    )
    align.add_argument("--dictionary", type=Path, help="pronunciations: WORD PHONE PHONE ...")
    align.set_defaults(run=_align)

    validate = commands.add_parser("validate", help="report words with no pronunciation")
    validate.add_argument("corpus", type=Path)
    _job_options(validate)
    validate.set_defaults(run=_validate)

    commands.add_parser("jobs", help="your recent jobs").set_defaults(run=_jobs)
    status = commands.add_parser("status", help="one job and its files")
    status.add_argument("job")
    status.set_defaults(run=_status)
    download = commands.add_parser("download", help="a finished job's results")
    download.add_argument("job")
    download.add_argument("output", type=Path)
    download.add_argument("--format", default="textgrid")
    download.set_defaults(run=_download)
    cancel = commands.add_parser("cancel", help="stop a job and delete its files")
    cancel.add_argument("job")
    cancel.set_defaults(run=_cancel)
    commands.add_parser("quota", help="your plan and what you use of it").set_defaults(run=_quota)
    return parser


def _job_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--language", default=None, help="e.g. en (the service's default)")
    parser.add_argument("--engine", default=None)


# -- login and the client ---------------------------------------------------------------


def _client() -> Client:
    config = settings.load()
    if not (config.api_key or config.access_token):
        raise ApiError(401, "not_logged_in", "no credential: run fa login (or set FA_API_KEY)")

    def keep(tokens: TokenPair) -> None:  # a renewed access token is kept for next time
        stored = settings.load()
        if not os.environ.get("FA_API_KEY"):
            stored.access_token, stored.refresh_token = tokens.access_token, tokens.refresh_token
            settings.save(stored)

    return Client(
        config.url,
        Credentials(config.access_token, config.refresh_token, config.api_key),
        on_tokens=keep,
    )


def _register(args: argparse.Namespace) -> int:
    url = args.url or settings.load().url
    email = args.email or input("email: ")
    with Client(url) as client:
        client.register(email, _password(args))
    console.print(f"account {email} made on {url}; now: fa login --email {email}")
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass()


def _login(args: argparse.Namespace) -> int:
    config = settings.load()
    config.url = args.url or config.url
    if args.api_key:
        config.api_key, config.access_token, config.refresh_token = args.api_key, None, None
        with Client(config.url, Credentials(api_key=args.api_key)) as client:
            client.quota()  # the key works
    else:
        email = args.email or input("email: ")
        password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass()
        with Client(config.url) as client:
            tokens = client.login(email, password)
        config.email, config.api_key = email, None
        config.access_token, config.refresh_token = tokens.access_token, tokens.refresh_token
    path = settings.save(config)
    console.print(f"logged in to {config.url}; kept in {path}")
    return 0


# -- align ------------------------------------------------------------------------------


@dataclass
class Outcome:
    written: int = 0
    problems: list[tuple[str, str, str]] = field(default_factory=list)  # name, what, why


def _align(args: argparse.Namespace) -> int:
    formats = [f.strip().lower() for f in args.format.split(",") if f.strip()]
    unknown = [f for f in formats if f not in RESULT_SUFFIXES]
    if unknown or not formats:
        console.print(
            f"[red]unknown format[/red] {', '.join(unknown)}; use {list(RESULT_SUFFIXES)}"
        )
        return 2
    corpus = _scanned(args.corpus)
    todo = [p for p in corpus.pairs if not all(o.exists() for o in p.outputs(args.output, formats))]
    done = len(corpus.pairs) - len(todo)
    console.print(
        f"{len(corpus.pairs)} pairs in {args.corpus}: {done} aligned already, {len(todo)} to do"
    )
    outcome = Outcome()
    if todo:
        with _client() as client:
            extra = (
                [UploadFile("dictionary", args.dictionary.name, args.dictionary)]
                if (args.dictionary)
                else []
            )

            def keep(job: Job, by_name: dict[str, Pair]) -> None:
                stems = {name: pair.stem for name, pair in by_name.items()}
                _write_results(client, job, stems, args.output, formats, outcome)

            _run_jobs(client, todo, args, extra, keep, outcome, validate=False)
    return _report(corpus, outcome, f"{outcome.written} pairs aligned into {args.output}")


def _validate(args: argparse.Namespace) -> int:
    corpus = _scanned(args.corpus)
    outcome = Outcome()
    table = Table("file", "words", "no pronunciation", "guessed", "ready")
    with _client() as client:

        def keep(job: Job, by_name: dict[str, Pair]) -> None:
            for f in job.files:
                if f.status != "ALIGNED":
                    outcome.problems.append((f.audio_name, f.status.lower(), f.error or ""))
                    continue
                report = client.validation(job.id, f.id)
                outcome.written += 1
                missing = report.oov_unpronounceable
                table.add_row(
                    f.text_name,
                    str(report.words_total),
                    " ".join(missing) or "-",
                    " ".join(report.oov_guessed) or "-",
                    "yes" if report.ready else "[red]no[/red]",
                )
                if not report.ready:
                    outcome.problems.append((f.text_name, "not ready", " ".join(missing)))

        _run_jobs(client, corpus.pairs, args, [], keep, outcome, validate=True)
    Console().print(table)
    return _report(corpus, outcome, f"{outcome.written} transcripts checked")


def _scanned(root: Path) -> Corpus:
    if not root.is_dir():
        raise SystemExit(f"fa: {root} is not a folder")
    return scan(root)


def _run_jobs(
    client: Client,
    pairs: list[Pair],
    args: argparse.Namespace,
    extra: list[UploadFile],
    keep: Callable[[Job, dict[str, Pair]], None],
    outcome: Outcome,
    *,
    validate: bool,
) -> None:
    """Submits the pairs as jobs the plan allows (files and bytes per job, jobs at a time),
    and hands each finished job to ``keep``."""
    quota = client.quota()
    limits = quota.limits
    at_once = max(1, limits.max_concurrent_jobs - quota.usage.concurrent_jobs)
    queue = list(batches(pairs, limits.max_files_per_job, REQUEST_BYTES))
    running: dict[str, dict[str, Pair]] = {}
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[amount]}"),
        TimeRemainingColumn(),
        console=console,
    ) as bars:
        total_bytes = sum(p.size for p in pairs)
        upload = bars.add_task("upload", total=total_bytes, amount=_mib(0, total_bytes))
        aligned = bars.add_task("align ", total=len(pairs), amount=f"0/{len(pairs)} files")
        finished_files = 0
        while queue or running:
            while queue and len(running) < at_once:
                batch = queue.pop(0)
                job = _submit(client, batch, args, extra, bars, upload, validate)
                running[job.id] = {p.audio_name: p for p in batch}
            in_progress = 0
            for job_id in list(running):
                job = client.job(job_id)
                if job.finished:
                    keep(job, running.pop(job_id))
                    finished_files += len(job.files)
                    if job.status in {"CANCELLED", "EXPIRED"}:
                        outcome.problems.append((job.id, job.status.lower(), job.error or ""))
                else:
                    in_progress += sum(1 for f in job.files if f.finished)
            done = finished_files + in_progress
            bars.update(aligned, completed=done, amount=f"{done}/{len(pairs)} files")
            if running:
                time.sleep(1.0)


def _mib(done: float, total: float) -> str:
    return f"{done / 2**20:.1f}/{total / 2**20:.1f} MiB"


def _submit(
    client: Client,
    batch: list[Pair],
    args: argparse.Namespace,
    extra: list[UploadFile],
    bars: Progress,
    upload: TaskID,
    validate: bool,
) -> Job:
    files = [
        *(UploadFile("audio_files", p.audio_name, p.audio) for p in batch),
        *(UploadFile("text_files", p.text_name, p.text) for p in batch),
        *extra,
    ]
    task = bars.tasks[upload]
    sent_before = task.completed
    total = task.total or 0.0

    def sent(count: int) -> None:
        bars.update(upload, advance=count, amount=_mib(task.completed + count, total))

    key = str(uuid.uuid4())
    try:
        return client.submit(
            files,
            language=args.language,
            engine=args.engine,
            validate=validate,
            idempotency_key=key,
            on_sent=sent,
        )
    finally:  # a retried upload counts its bytes again: show what one upload is
        done = sent_before + sum(p.size for p in batch)
        bars.update(upload, completed=done, amount=_mib(done, total))


def _write_results(
    client: Client,
    job: Job,
    stems: dict[str, str],
    output: Path,
    formats: list[str],
    outcome: Outcome,
) -> None:
    """Each aligned file's results at ``output/<stem><suffix>``; the rest are problems."""
    for f in job.files:
        stem = stems.get(f.audio_name)
        if f.status != "ALIGNED" or stem is None:
            outcome.problems.append((f.audio_name, f.status.lower(), f.error or ""))
            continue
        for fmt in formats:
            target = output / (stem + RESULT_SUFFIXES[fmt])
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(target.name + ".part")
            partial.write_bytes(client.result(job.id, f.id, fmt))
            partial.replace(target)  # whole or absent: a rerun trusts what it finds
        outcome.written += 1


def _report(corpus: Corpus, outcome: Outcome, summary: str) -> int:
    console.print(summary)
    rows = [
        *((name, "no transcript", "") for name in corpus.audio_without_text),
        *((name, "no audio", "") for name in corpus.text_without_audio),
        *((name, "ambiguous", "two files with this name") for name in corpus.ambiguous),
        *outcome.problems,
    ]
    if corpus.ignored:
        console.print(f"ignored (neither audio nor transcript): {', '.join(corpus.ignored)}")
    if rows:
        table = Table("file", "problem", "why", title=f"{len(rows)} not aligned")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    return 1 if rows else 0


# -- the other commands -------------------------------------------------------------------


def _jobs(_: argparse.Namespace) -> int:
    with _client() as client:
        table = Table("status", "progress", "files", "created (UTC)")
        table.add_column("id", no_wrap=True, min_width=36)  # whole: fa status takes it
        for job in client.jobs():
            table.add_row(
                job.status,
                f"{job.progress}%",
                str(len(job.files)),
                f"{job.created_at:%Y-%m-%d %H:%M}",
                job.id,
            )
    Console().print(table)
    return 0


def _status(args: argparse.Namespace) -> int:
    with _client() as client:
        job = client.job(args.job)
    Console().print(
        f"{job.id}: {job.status} {job.progress}%" + (f" ({job.error})" if job.error else "")
    )
    table = Table("file", "status", "duration", "error")
    for f in job.files:
        duration = f"{f.duration:.1f} s" if f.duration is not None else "-"
        table.add_row(f.audio_name, f.status, duration, f.error or "")
    Console().print(table)
    return 0 if job.status != "FAILED" else 1


def _download(args: argparse.Namespace) -> int:
    fmt = args.format.lower()
    if fmt not in RESULT_SUFFIXES:
        console.print(f"[red]unknown format[/red] {fmt}")
        return 2
    outcome = Outcome()
    with _client() as client:
        job = client.job(args.job)
        stems = {f.audio_name: _stem(f.audio_name) for f in job.files}
        _write_results(client, job, stems, args.output, [fmt], outcome)
    return _report(Corpus(args.output), outcome, f"{outcome.written} results in {args.output}")


def _stem(name: str) -> str:
    """'speaker1/utt1.wav' -> 'speaker1/utt1', kept inside the output folder."""
    parts = [p for p in PurePosixPath(name.replace("\\", "/")).with_suffix("").parts]
    return "/".join(p for p in parts if p not in {"", ".", "..", "/"}) or "file"


def _cancel(args: argparse.Namespace) -> int:
    with _client() as client:
        client.cancel(args.job)
    console.print(f"{args.job} cancelled; its files are being deleted")
    return 0


def _quota(_: argparse.Namespace) -> int:
    with _client() as client:
        quota = client.quota()
    limits, usage = quota.limits, quota.usage
    Console().print(
        f"plan {quota.subscription or limits.subscription}: "
        f"{usage.audio_minutes_used:.1f} of {limits.audio_minutes_per_month} minutes this month, "
        f"{usage.storage_bytes_used / 2**20:.1f} of {limits.storage_bytes / 2**20:.0f} MiB stored, "
        f"{usage.concurrent_jobs} of {limits.max_concurrent_jobs} jobs running, "
        f"files kept {limits.retention_days} days"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
