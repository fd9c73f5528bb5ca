-- The Dify tables llm-recon reads, with the column names, order and types of Dify's models
-- (langgenius/dify api/models/model.py `Message`, api/models/workflow.py `WorkflowRun` and
-- `WorkflowNodeExecutionModel`, api/models/account.py `Account`, `TenantAccountJoin`): times are
-- `timestamp without time zone` holding UTC, unit prices numeric(10,4), price units and
-- total_price numeric(10,7), `inputs`/`message` json, the other JSON columns text.
CREATE TABLE messages (
    id uuid PRIMARY KEY,
    app_id uuid NOT NULL,
    model_provider varchar(255),
    model_id varchar(255),
    override_model_configs text,
    conversation_id uuid NOT NULL,
    inputs json NOT NULL,
    query text NOT NULL,
    message json NOT NULL,
    message_tokens integer NOT NULL DEFAULT 0,
    message_unit_price numeric(10, 4) NOT NULL,
    message_price_unit numeric(10, 7) NOT NULL DEFAULT 0.001,
    answer text NOT NULL,
    answer_tokens integer NOT NULL DEFAULT 0,
    answer_unit_price numeric(10, 4) NOT NULL,
    answer_price_unit numeric(10, 7) NOT NULL DEFAULT 0.001,
    parent_message_id uuid,
    provider_response_latency double precision NOT NULL DEFAULT 0,
    total_price numeric(10, 7),
    currency varchar(255) NOT NULL,
    from_source varchar(255) NOT NULL,
    from_end_user_id uuid,
    from_account_id uuid,
    created_at timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP(0),
    updated_at timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP(0),
    agent_based boolean NOT NULL DEFAULT false,
    workflow_run_id uuid,
    status varchar(255) NOT NULL DEFAULT 'normal',
    error text,
    message_metadata text,
    invoke_from varchar(255),
    app_mode varchar(255)
);

CREATE TABLE workflow_runs (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    app_id uuid NOT NULL,
    workflow_id uuid NOT NULL,
    type varchar(255) NOT NULL,
    triggered_from varchar(255) NOT NULL,
    version varchar(255) NOT NULL,
    graph text,
    inputs text,
    status varchar(255) NOT NULL,
    outputs text,
    error text,
    elapsed_time double precision NOT NULL DEFAULT 0,
    total_tokens bigint NOT NULL DEFAULT 0,
    total_steps integer DEFAULT 0,
    created_by_role varchar(255) NOT NULL,
    created_by uuid NOT NULL,
    created_at timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP(0),
    finished_at timestamp without time zone,
    exceptions_count integer DEFAULT 0
);

CREATE TABLE workflow_node_executions (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    app_id uuid NOT NULL,
    workflow_id uuid NOT NULL,
    triggered_from varchar(255) NOT NULL,
    workflow_run_id uuid,
    index integer NOT NULL,
    predecessor_node_id varchar(255),
    node_execution_id varchar(255),
    node_id varchar(255) NOT NULL,
    node_type varchar(255) NOT NULL,
    title varchar(255) NOT NULL,
    inputs text,
    process_data text,
    outputs text,
    status varchar(255) NOT NULL,
    error text,
    elapsed_time double precision NOT NULL DEFAULT 0,
    execution_metadata text,
    created_at timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP(0),
    created_by_role varchar(255) NOT NULL,
    created_by uuid NOT NULL,
    finished_at timestamp without time zone
);

CREATE TABLE accounts (
    id uuid PRIMARY KEY,
    name varchar(255) NOT NULL,
    email varchar(255) NOT NULL,
    password varchar(255),
    password_salt varchar(255),
    avatar varchar(255),
    interface_language varchar(255),
    interface_theme varchar(255),
    timezone varchar(255),
    last_login_at timestamp without time zone,
    last_login_ip varchar(255),
    status varchar(16) NOT NULL DEFAULT 'active',
    initialized_at timestamp without time zone,
    created_at timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP(0),
    updated_at timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP(0),
    last_active_at timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP(0)
);

CREATE TABLE tenant_account_joins (
    id uuid PRIMARY KEY,
    tenant_id uuid NOT NULL,
    account_id uuid NOT NULL,
    current boolean NOT NULL DEFAULT false,
    role varchar(16) NOT NULL DEFAULT 'normal',
    invited_by uuid,
    created_at timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP(0),
    updated_at timestamp without time zone NOT NULL DEFAULT CURRENT_TIMESTAMP(0)
);
