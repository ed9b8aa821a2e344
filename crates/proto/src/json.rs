//! Any `bindery.v1` message as JSON: the proto3 JSON mapping (RFC 3339 timestamps, enums by
//! name) with the `.proto` field names, every field present (defaults included) and 64-bit
//! integers as numbers, so scripts read `bindery … --json` with `jq` directly. The CLI's `--json`
//! output is this, for every command.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

use crate::FILE_DESCRIPTOR_SET;

fn pool() -> Option<&'static DescriptorPool> {
    static POOL: OnceLock<Option<DescriptorPool>> = OnceLock::new();
    POOL.get_or_init(|| DescriptorPool::decode(FILE_DESCRIPTOR_SET).ok()).as_ref()
}

/// `message` as JSON (an error only if the message is not in the contract, which is a bug).
pub fn to_json<M: prost::Message + prost::Name>(message: &M) -> Result<serde_json::Value, String> {
    let name = M::full_name();
    let descriptor = pool()
        .and_then(|p| p.get_message_by_name(&name))
        .ok_or_else(|| format!("{name} is not a message of the bindery.v1 contract"))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .map_err(|e| format!("re-decoding {name}: {e}"))?;
    let options = SerializeOptions::new()
        .use_proto_field_name(true)
        .skip_default_fields(false)
        .stringify_64_bit_integers(false);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .map_err(|e| format!("rendering {name} as JSON: {e}"))
}

/// A message from JSON in the same mapping (`.proto` or camelCase field names, enums by name or
/// number, 64-bit integers as numbers or strings); unknown fields are refused, so a misspelt field
/// is an error rather than a silently empty one.
pub fn from_json<M: prost::Message + prost::Name + Default>(value: serde_json::Value) -> Result<M, String> {
    let name = M::full_name();
    let descriptor = pool()
        .and_then(|p| p.get_message_by_name(&name))
        .ok_or_else(|| format!("{name} is not a message of the bindery.v1 contract"))?;
    let dynamic = DynamicMessage::deserialize(descriptor, value).map_err(|e| e.to_string())?;
    dynamic.transcode_to::<M>().map_err(|e| format!("converting to {name}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1;

    #[test]
    fn messages_render_with_proto_names_enums_by_name_and_times_as_rfc3339() {
        let card = v1::Card {
            model_name: "fraud/detector".into(),
            version: 2,
            markdown: "# Fraud".into(),
            edition: 3,
            updated_by: "ana".into(),
            updated_at: Some(prost_types::Timestamp { seconds: 1_796_040_000, nanos: 0 }),
        };
        let json = to_json(&card).unwrap();
        assert_eq!(json["model_name"], "fraud/detector");
        assert_eq!(json["edition"], 3);
        assert_eq!(json["updated_at"], "2026-11-30T12:00:00Z");
        let link = v1::Annotation { kind: v1::AnnotationKind::BiasAudit as i32, ..Default::default() };
        let json = to_json(&link).unwrap();
        assert_eq!(json["kind"], "ANNOTATION_KIND_BIAS_AUDIT");
        assert_eq!(json["title"], "", "defaults are present");
    }

    #[test]
    fn messages_parse_from_json_and_unknown_fields_are_refused() {
        let req: v1::RollbackBindingRequest = from_json(serde_json::json!({
            "model_name": "fraud", "binding": "production", "expected_generation": "7", "reason": "bad"
        }))
        .unwrap();
        assert_eq!(req.expected_generation, Some(7));
        assert_eq!(req.to_generation, None);
        let state: v1::ListPromotionRequestsRequest =
            from_json(serde_json::json!({"state": "PROMOTION_STATE_PENDING"})).unwrap();
        assert_eq!(state.state, v1::PromotionState::Pending as i32);
        let err = from_json::<v1::GetModelRequest>(serde_json::json!({"nmae": "x"})).unwrap_err();
        assert!(err.contains("nmae"), "{err}");
        assert!(from_json::<v1::GetVersionRequest>(serde_json::json!({"version": "x"})).is_err());
    }
}
