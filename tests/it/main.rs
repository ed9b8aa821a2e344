//! Bindery integration tests: one binary, a real PostgreSQL, a fresh database per test, servers on
//! port 0, real tonic clients.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;

/// Instantiates the shared behaviour suite for every store: each listed `module::test(backend)`
/// becomes `postgres::module::test` and `sqlite::module::test`.
macro_rules! store_suite {
    ($($module:ident: [$($test:ident),* $(,)?]),* $(,)?) => {
        store_suite!(@backend postgres, Postgres, $($module: [$($test),*]),*);
        store_suite!(@backend sqlite, Sqlite, $($module: [$($test),*]),*);
    };
    (@backend $name:ident, $variant:ident, $($module:ident: [$($test:ident),*]),*) => {
        mod $name {
            $(
                mod $module {
                    $(
                        #[tokio::test]
                        async fn $test() {
                            crate::$module::$test(bindery_test_util::Backend::$variant).await;
                        }
                    )*
                }
            )*
        }
    };
}

store_suite! {
    access_matrix: [role_matrix],
    access: [
        contributors_move_aliases_and_approvers_move_stages,
        a_revoked_token_fails_on_the_read_side_within_a_second,
        the_audit_chain_names_a_tampered_row,
    ],
    tls: [tokens_over_tls_and_nothing_in_plaintext, client_certificates_name_principals],
    lifecycle: [full_lifecycle, list_models_paginates_in_name_order, health_and_reflection_are_served],
    registration: [
        idempotent_register_under_20_concurrent_retries,
        fifty_concurrent_registrations_get_1_to_50,
        versions_without_request_id_are_never_deduplicated,
        lineage_parents_must_exist,
    ],
    bindings: [
        racing_set_binding_with_same_expected_generation_exactly_one_wins,
        compare_and_set_rules,
        history_and_rollback,
        get_version_by_binding,
    ],
    splits: [
        splits_route_sticky_and_roll_back_whole,
        bad_splits_are_refused_naming_the_field,
        sides_gaining_weight_pass_the_gates,
        the_cli_sets_and_resolves_a_split,
        shadows_alone_need_only_contributor_when_protected,
    ],
    deployment: [versions_carry_their_deployment_spec_to_every_resolver, the_cli_registers_and_shows_a_deployment_spec],
    webhooks: [
        every_event_arrives_once_in_order_and_signed,
        a_receiver_down_for_a_while_loses_nothing,
        a_500_is_retried_and_a_refusing_receiver_disables_the_webhook,
        webhooks_are_validated_and_need_admin_on_their_scope,
        the_cli_manages_webhooks_and_streams_events,
    ],
    rollouts: [
        a_rollout_steps_on_time_survives_restarts_and_never_double_steps,
        a_breach_or_an_abort_restores_the_starting_target,
        bad_rollouts_are_refused,
        rollouts_need_the_role_that_moves_the_binding,
        the_cli_starts_and_aborts_a_rollout,
        the_primary_advances_due_rollouts_by_itself,
    ],
    validation: [invalid_arguments_name_the_field],
    cli: [cli_drives_a_model_to_production, cli_tables_updates_set_bindings_and_exit_codes],
    artifact_allowed: [
        registering_outside_the_allowed_locations_is_refused,
        presigning_refuses_versions_outside_the_allowed_locations,
    ],
    artifacts: [
        verified_register_records_what_the_store_reports,
        mismatches_and_missing_objects_are_refused_and_nothing_is_registered,
        a_prefix_is_registered_with_its_manifest,
        upload_session_single_part_register_and_download,
        upload_session_multipart,
        presigned_urls_and_sessions_expire,
        gc_deletes_only_unreferenced_managed_objects,
        verification_off_records_unverified_versions,
        cli_uploads_a_directory_and_downloads_it_back,
    ],
    artifact_retries: [a_retry_never_touches_the_object_store],
    agent: [the_agent_installs_swaps_and_refuses_corrupt_downloads],
    gc_race: [collection_and_registration_never_interleave],
    size_bounds: [
        a_versions_metadata_is_bounded_as_a_whole,
        a_manifest_over_its_byte_bound_is_refused_before_registering,
        a_large_watch_reset_comes_in_parts,
        download_urls_come_a_page_at_a_time,
        a_manifest_travels_once_per_version,
        list_answers_stay_under_the_message_limit,
    ],
    upload_bounds: [oversized_sessions_are_refused_before_anything_is_created, dev_uploads_need_a_bounded_content_length],
    promotion: [
        the_example_policy_gates_production,
        a_better_champion_blocks_the_application,
        the_cli_walks_the_readme_example,
        pending_requests_expire,
    ],
    search: [the_seed_question_in_one_call, sql_agrees_with_the_reference_evaluator, lineage_and_copies],
    annotations: [cards_and_annotations],
    resolving: [
        a_write_of_two_bindings_is_never_seen_half_applied,
        a_thousand_watchers_each_get_every_change_once_in_order_and_can_resume,
    ],
}

mod access;
mod access_matrix;
mod agent;
mod annotations;
mod artifact_allowed;
mod artifact_errors;
mod artifact_retries;
mod artifacts;
mod availability;
mod bindings;
mod cli;
mod client;
mod config;
mod deployment;
mod dev;
mod failover;
mod gc_race;
mod lifecycle;
mod metrics;
mod pg_tls;
mod promotion;
mod readers;
mod registration;
mod resolving;
mod revisions;
mod rollouts;
mod search;
mod shutdown;
mod size_bounds;
mod splits;
mod stored_snapshots;
mod tier2;
mod tls;
mod tracing;
mod upload_bounds;
mod validation;
mod watch_limits;
mod webhooks;
