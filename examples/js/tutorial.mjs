// The Bedrock fine-tuning tutorial's steps on the AWS SDK for JavaScript v3: bucket, upload,
// role, customization job, on-demand deployment, Converse. Nothing here knows the emulator
// exists except the endpoint, so the same script runs against AWS without AWS_ENDPOINT_URL.
//
//   nova-ft-emulator serve --port 4566 &
//   npm install
//   AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
//     AWS_REGION=us-east-1 node tutorial.mjs train.jsonl
//
// Prints one JSON line at the end: {"status", "deployment", "answer"}.
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { S3Client, CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { IAMClient, CreateRoleCommand, PutRolePolicyCommand } from "@aws-sdk/client-iam";
import {
  BedrockClient,
  CreateModelCustomizationJobCommand,
  GetModelCustomizationJobCommand,
  CreateCustomModelDeploymentCommand,
  GetCustomModelDeploymentCommand,
} from "@aws-sdk/client-bedrock";
import { BedrockRuntimeClient, ConverseCommand } from "@aws-sdk/client-bedrock-runtime";

const trainFile = process.argv[2];
if (!trainFile) {
  console.error("usage: node tutorial.mjs TRAIN.jsonl");
  process.exit(2);
}
const endpoint = process.env.AWS_ENDPOINT_URL; // unset: AWS itself
const region = process.env.AWS_REGION ?? "us-east-1";
const common = endpoint ? { region, endpoint } : { region };
// A custom endpoint serves buckets by path, not by host name.
const s3 = new S3Client({ ...common, forcePathStyle: Boolean(endpoint) });
const iam = new IAMClient(common);
const bedrock = new BedrockClient(common);
const runtime = new BedrockRuntimeClient(common);

const stamp = Date.now().toString(36);
const bucket = `js-tutorial-${stamp}`;
const name = `js-tutorial-${stamp}`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

await s3.send(new CreateBucketCommand({ Bucket: bucket }));
const key = `training-data/${basename(trainFile)}`;
await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: readFileSync(trainFile) }));

const trust = {
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Allow",
      Principal: { Service: "bedrock.amazonaws.com" },
      Action: "sts:AssumeRole",
    },
  ],
};
const { Role } = await iam.send(
  new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) }),
);
const access = {
  Version: "2012-10-17",
  Statement: [
    {
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
      Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
    },
  ],
};
await iam.send(
  new PutRolePolicyCommand({
    RoleName: name,
    PolicyName: "s3-data",
    PolicyDocument: JSON.stringify(access),
  }),
);

const { jobArn } = await bedrock.send(
  new CreateModelCustomizationJobCommand({
    jobName: name,
    customModelName: `${name}-model`,
    roleArn: Role.Arn,
    baseModelIdentifier: "amazon.nova-micro-v1:0:128k",
    customizationType: "FINE_TUNING",
    trainingDataConfig: { s3Uri: `s3://${bucket}/${key}` },
    outputDataConfig: { s3Uri: `s3://${bucket}/output-data/` },
    hyperParameters: { epochCount: "2", learningRate: "0.00001", learningRateWarmupSteps: "10" },
  }),
);
let job;
do {
  await sleep(1000);
  job = await bedrock.send(new GetModelCustomizationJobCommand({ jobIdentifier: jobArn }));
  console.error(`job ${job.status}`);
} while (!["Completed", "Failed", "Stopped"].includes(job.status));
if (job.status !== "Completed") {
  console.log(JSON.stringify({ status: job.status, failure: job.failureMessage }));
  process.exit(1);
}

const { customModelDeploymentArn } = await bedrock.send(
  new CreateCustomModelDeploymentCommand({
    modelDeploymentName: name,
    modelArn: job.outputModelArn,
  }),
);
let deployment;
do {
  await sleep(500);
  deployment = await bedrock.send(
    new GetCustomModelDeploymentCommand({
      customModelDeploymentIdentifier: customModelDeploymentArn,
    }),
  );
} while (deployment.status === "Creating");

const reply = await runtime.send(
  new ConverseCommand({
    modelId: customModelDeploymentArn,
    system: process.env.NOVA_FT_SYSTEM_PROMPT ? [{ text: process.env.NOVA_FT_SYSTEM_PROMPT }] : undefined,
    messages: [
      { role: "user", content: [{ text: process.env.NOVA_FT_PROMPT ?? "flights to boston" }] },
    ],
    inferenceConfig: { maxTokens: 16, temperature: 0 },
  }),
);
console.log(
  JSON.stringify({
    status: job.status,
    deployment: deployment.status,
    answer: reply.output.message.content[0].text,
  }),
);
