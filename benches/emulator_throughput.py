"""Converse requests per second the emulator serves on loopback, with a trained model answering.

Starts the emulator (release build recommended: `make bench`), runs the tutorial's job and
deployment with boto3, then drives Converse on the deployment with `wrk` (a C load generator;
`apt-get install wrk`) at the given concurrency, side by side with the base model id.

    python benches/emulator_throughput.py [--connections 64] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import nova_ft

TRUST = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
}


def deploy(emu: nova_ft.LocalEmulator) -> str:
    s3, iam, bedrock = emu.client("s3"), emu.client("iam"), emu.client("bedrock")
    data = nova_ft.Dataset.synthetic(7, 800, 100)
    s3.create_bucket(Bucket="bench")
    s3.put_object(Bucket="bench", Key="train/train.jsonl", Body=data.jsonl("train"))
    role = iam.create_role(RoleName="bench", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"][
        "Arn"
    ]
    policy = {
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::bench/*"}]
    }
    iam.put_role_policy(RoleName="bench", PolicyName="p", PolicyDocument=json.dumps(policy))
    job = bedrock.create_model_customization_job(
        jobName="bench",
        customModelName="bench",
        roleArn=role,
        baseModelIdentifier="amazon.nova-micro-v1:0:128k",
        trainingDataConfig={"s3Uri": "s3://bench/train/train.jsonl"},
        outputDataConfig={"s3Uri": "s3://bench/out/"},
    )["jobArn"]
    while (j := bedrock.get_model_customization_job(jobIdentifier=job))["status"] == "InProgress":
        time.sleep(0.05)
    assert j["status"] == "Completed", j.get("failureMessage")
    arn: str = bedrock.create_custom_model_deployment(
        modelDeploymentName="bench", modelArn=j["outputModelArn"]
    )["customModelDeploymentArn"]
    while (
        bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)["status"]
        != "Active"
    ):
        time.sleep(0.05)
    return arn


def run_wrk(url: str, body: str, connections: int, seconds: int, threads: int) -> tuple[float, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            f'wrk.method = "POST"\nwrk.body = {json.dumps(body)}\n'
            'wrk.headers["Content-Type"] = "application/json"\n'
        )
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            script.name,
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    Path(script.name).unlink()
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise SystemExit(f"{errors.group(1)} requests failed:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    latency = re.search(r"99%\s+(\S+)", out)
    return rate, latency.group(1) if latency else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (the server needs cores too)"
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("this benchmark drives load with wrk: apt-get install wrk")
    body = json.dumps(
        {
            "system": [{"text": nova_ft.SYNTHETIC_SYSTEM_PROMPT}],
            "messages": [
                {"role": "user", "content": [{"text": "show me flights from boston to denver"}]}
            ],
            "inferenceConfig": {"maxTokens": 8, "temperature": 0},
        }
    )
    with nova_ft.LocalEmulator(deployment_delay=0.1, job_step_delay=0.01) as emu:
        deployment = deploy(emu)
        print(f"emulator {emu.endpoint_url}, {args.connections} connections, {args.seconds}s each")
        for label, model in (
            ("trained (deployment)", deployment),
            ("base model id", "amazon.nova-micro-v1:0"),
        ):
            url = f"{emu.endpoint_url}/model/{urllib.parse.quote(model, safe='')}/converse"
            rate, p99 = run_wrk(url, body, args.connections, args.seconds, args.threads)
            print(f"{label:<22} {rate:10,.0f} requests/s   p99 {p99}")


if __name__ == "__main__":
    main()
