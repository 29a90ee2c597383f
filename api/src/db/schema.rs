//! The diesel schema: the tables of `migrations/`, as diesel sees them.
//!
//! Written to match `migrations/postgres` and `migrations/sqlite` column for
//! column. The storage tests compare every table's column names with both
//! databases and run diesel's typed selects against them; a column's type and
//! nullability are checked where storage code loads rows. Times are UTC
//! `Timestamp`s.

diesel::table! {
    partners (id) {
        id -> Text,
        name -> Text,
        links_for_everyone -> Bool,
        temporary_secret_ttl_seconds -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    companies (id) {
        id -> Text,
        partner_id -> Text,
        name -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    admins (id) {
        id -> Text,
        partner_id -> Text,
        email -> Text,
        name -> Text,
        role -> Text,
        password_hash -> Text,
        must_change_password -> Bool,
        token_generation -> BigInt,
        locale -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    admin_companies (admin_id, company_id) {
        admin_id -> Text,
        company_id -> Text,
        partner_id -> Text,
    }
}

diesel::table! {
    api_clients (id) {
        id -> Text,
        partner_id -> Text,
        name -> Text,
        secret_hash -> Binary,
        scopes -> Text,
        token_generation -> BigInt,
        created_by_admin_id -> Nullable<Text>,
        created_at -> Timestamp,
        last_used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    api_client_companies (api_client_id, company_id) {
        api_client_id -> Text,
        company_id -> Text,
        partner_id -> Text,
    }
}

diesel::table! {
    backup_profiles (company_id) {
        company_id -> Text,
        partner_id -> Text,
        backup_all_company_items -> Bool,
        retention_days -> Integer,
        backup_public_key -> Nullable<Text>,
        version -> BigInt,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    users (id) {
        id -> Text,
        partner_id -> Text,
        company_id -> Text,
        email -> Text,
        name -> Text,
        client_kind -> Text,
        locale -> Text,
        is_primary -> Bool,
        status -> Text,
        auth_key_hash -> Nullable<Text>,
        kdf_params -> Nullable<Text>,
        encrypted_vault_key -> Nullable<Binary>,
        recovery_key_verifier -> Nullable<Binary>,
        recovery_wrapped_vault_key -> Nullable<Binary>,
        token_generation -> BigInt,
        last_reset_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    vault_items (user_id, item_id) {
        user_id -> Text,
        item_id -> Text,
        profile -> Text,
        revision -> BigInt,
        ciphertext -> Binary,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    backup_copies (id) {
        id -> Text,
        partner_id -> Text,
        company_id -> Text,
        user_id -> Text,
        item_id -> Text,
        revision -> BigInt,
        ciphertext -> Binary,
        created_at -> Timestamp,
        item_removed_at -> Nullable<Timestamp>,
        removal_reason -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    reset_batches (id) {
        id -> Text,
        partner_id -> Text,
        requested_by_kind -> Text,
        requested_by_id -> Text,
        acknowledge_company_data_loss -> Bool,
        reason -> Nullable<Text>,
        ticket -> Nullable<Text>,
        status -> Text,
        total -> Integer,
        succeeded -> Integer,
        failed -> Integer,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    master_password_resets (id) {
        id -> Text,
        partner_id -> Text,
        company_id -> Text,
        user_id -> Text,
        batch_id -> Nullable<Text>,
        status -> Text,
        delivery_kind -> Text,
        secret_hash -> Nullable<Binary>,
        secret_expires_at -> Timestamp,
        personal_items_purged -> BigInt,
        company_items_purged -> BigInt,
        company_items_preserved -> BigInt,
        acknowledged_company_data_loss -> Bool,
        reason -> Nullable<Text>,
        ticket -> Nullable<Text>,
        requested_by_kind -> Text,
        requested_by_id -> Text,
        outbox_message_id -> Nullable<Text>,
        reissue_count -> Integer,
        superseded_by -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        completed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    reset_batch_items (batch_id, user_id) {
        batch_id -> Text,
        user_id -> Text,
        ordinal -> Integer,
        status -> Text,
        reset_id -> Nullable<Text>,
        error_code -> Nullable<Text>,
        error_detail -> Nullable<Text>,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    outbox_messages (id) {
        id -> Text,
        partner_id -> Text,
        template -> Text,
        locale -> Text,
        recipient -> Text,
        message_id -> Text,
        payload_ciphertext -> Nullable<Binary>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        locked_until -> Nullable<Timestamp>,
        locked_by -> Nullable<Text>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        dead_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_heads (partner_id) {
        partner_id -> Text,
        seq -> BigInt,
        hash -> Binary,
        mac -> Binary,
    }
}

diesel::table! {
    audit_events (id) {
        id -> Text,
        partner_id -> Text,
        seq -> BigInt,
        occurred_at -> Timestamp,
        actor_kind -> Text,
        actor_id -> Nullable<Text>,
        action -> Text,
        target_kind -> Nullable<Text>,
        target_id -> Nullable<Text>,
        decision -> Text,
        policy_ids -> Text,
        request_id -> Nullable<Text>,
        details -> Text,
        prev_hash -> Binary,
        hash -> Binary,
    }
}

diesel::table! {
    idempotency_keys (partner_id, principal_id, idempotency_key) {
        partner_id -> Text,
        principal_id -> Text,
        idempotency_key -> Text,
        request_fingerprint -> Binary,
        state -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Binary>,
        created_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    signing_keys (kid) {
        kid -> Text,
        algorithm -> Text,
        private_key_ciphertext -> Binary,
        public_key -> Binary,
        created_at -> Timestamp,
        retired_at -> Nullable<Timestamp>,
        verify_until -> Nullable<Timestamp>,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    partners,
    companies,
    admins,
    admin_companies,
    api_clients,
    api_client_companies,
    backup_profiles,
    users,
    vault_items,
    backup_copies,
    reset_batches,
    master_password_resets,
    reset_batch_items,
    outbox_messages,
    audit_events,
    audit_heads,
    idempotency_keys,
    signing_keys,
);
