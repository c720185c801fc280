//! STS (awsQuery): GetCallerIdentity, answered with the emulator's account.

use super::request::AwsRequest;
use super::wire::{query_ok, Outcome};
use super::xml_writer::Xml;
use super::Ctx;

pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

pub fn handle(ctx: &Ctx, req: &AwsRequest, request_id: &str) -> Outcome {
    let form = req.form();
    let action = form
        .iter()
        .find(|(k, _)| k == "Action")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    match action {
        "GetCallerIdentity" => {
            let account = &ctx.config.account_id;
            let user = req.access_key.as_deref().unwrap_or("anonymous");
            let mut result = Xml::fragment();
            result
                .leaf("Arn", format!("arn:aws:iam::{account}:user/nova-ft-local"))
                .leaf("UserId", user)
                .leaf("Account", account);
            Ok(query_ok(
                "GetCallerIdentity",
                NAMESPACE,
                Some(result),
                request_id,
            ))
        }
        other => Err(super::operations::unsupported(req.service, &[other], req)),
    }
}
