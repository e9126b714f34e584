/** @odoo-module */
/*
 * Browser tour of the guided backend set-up, run by tests/test_ui_tours.py against the
 * PSA simulator; the test passes the simulator's address and token in
 * window.psaTourParams.
 */
import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("psa_backend_setup", {
    steps: () => [
        {
            content: "The dashboard is the connector's first screen",
            trigger: ".o_action_manager .o_kanban_view.o_psa_dashboard, .o_view_nocontent",
        },
        {
            content: "Set up a connected system, from the dashboard",
            trigger: ".o_control_panel button.o_psa_setup_button",
            run: "click",
        },
        {
            trigger: ".modal .o_field_widget[name=name] input",
            run: "edit Simulated PSA",
        },
        {
            trigger: ".modal .o_field_widget[name=code] input",
            run: "edit sim-psa",
        },
        {
            content: "An address without a scheme",
            trigger: ".modal .o_field_widget[name=base_url] input",
            run: "edit psa.example.com",
        },
        {
            trigger: ".modal button[name=action_test_connection]",
            run: "click",
        },
        {
            content: "A clear message for a URL that cannot be an API root",
            trigger: ".modal .o_psa_connection_failed:contains('must be a full address')",
        },
        {
            content: "The simulator's address",
            trigger: ".modal .o_field_widget[name=base_url] input",
            run(helpers) {
                return helpers.edit(window.psaTourParams.baseUrl);
            },
        },
        {
            content: "A wrong token",
            trigger: ".modal .o_field_widget[name=api_token] input",
            run: "edit not-the-token",
        },
        {
            trigger: ".modal button[name=action_test_connection]",
            run: "click",
        },
        {
            content: "A clear message for bad credentials",
            trigger: ".modal .o_psa_connection_failed:contains('refused the credentials')",
        },
        {
            content: "The right token",
            trigger: ".modal .o_field_widget[name=api_token] input",
            run(helpers) {
                return helpers.edit(window.psaTourParams.token);
            },
        },
        {
            content: "Testing again",
            trigger: ".modal button[name=action_test_connection]",
            run: "click",
        },
        {
            content: "Connected",
            trigger: ".modal .o_psa_connection_ok:contains('Connected to')",
        },
        {
            trigger: ".modal button[name=action_create_backend]",
            run: "click",
        },
        {
            content: "The webhook URL of the new backend",
            trigger: ".modal .o_field_widget[name=webhook_url]:contains('/psa/webhook/sim-psa')",
        },
        {
            content: "The signing secret, shown once",
            trigger: ".modal .o_field_widget[name=webhook_secret_once] span:not(:empty)",
        },
        {
            trigger: ".modal button[name=action_to_rules]",
            run: "click",
        },
        {
            content: "Ownership rules can be adjusted",
            trigger: ".modal .o_field_widget[name=ownership_rule_ids] .o_data_row",
        },
        {
            content: "State mappings can be adjusted",
            trigger: ".modal .o_field_widget[name=state_mapping_ids] .o_data_row",
        },
        {
            trigger: ".modal button[name=action_finish]",
            run: "click",
        },
        {
            content: "The new backend's form",
            trigger: "body:not(:has(.modal)) .o_form_view .o_field_widget[name=name]:contains('Simulated PSA'), body:not(:has(.modal)) .o_form_view .o_field_widget[name=name] input",
        },
    ],
});
