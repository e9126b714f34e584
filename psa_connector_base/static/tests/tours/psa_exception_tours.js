/** @odoo-module */
/*
 * Browser tours of the exception queue, run by tests/test_ui_tours.py:
 * a finance user resolves a missing reference by mapping it and retrying, and
 * bulk-ignores two exceptions with a reason; opens a group of exceptions with one cause,
 * accepts a suggested mapping and retries the group.
 */
import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("psa_exception_map_reference", {
    steps: () => [
        {
            content: "Open the exception that waits for customer C-77",
            trigger: ".o_list_view .o_data_row td[name=name]:contains('customer C-77')",
            run: "click",
        },
        {
            content: "The human explanation comes first and names the way out",
            trigger: ".o_form_view .o_psa_explanation:contains('Map to Odoo record')",
        },
        {
            content: "The payload is shown indented",
            trigger: ".o_form_view .o_field_widget[name=payload_pretty]:contains('customer_id')",
        },
        {
            content: "Map the reference to an Odoo record",
            trigger: ".o_form_view button[name=action_open_map_wizard]",
            run: "click",
        },
        {
            content: "Look for the customer Odoo already has",
            trigger: ".modal .o_field_widget[name=res_id] input",
            run: "edit Nordwind Handels",
        },
        {
            content: "Pick it",
            trigger: ".ui-autocomplete a:contains('Nordwind Handels AG')",
            run: "click",
        },
        {
            content: "Map and retry",
            trigger: ".modal button[name=action_map_and_retry]",
            run: "click",
        },
        {
            content: "The dialog closes and the exception is being retried",
            trigger: "body:not(:has(.modal)) .o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Retrying')",
        },
    ],
});

registry.category("web_tour.tours").add("psa_exception_bulk_ignore", {
    steps: () => [
        {
            content: "Select the first test exception",
            trigger: ".o_list_view .o_data_row:contains('Tour ignore A') .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Select the second test exception",
            trigger: ".o_list_view .o_data_row:contains('Tour ignore B') .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Ignore both",
            trigger: "button[name=action_open_ignore_wizard]:not(.modal *)",
            run: "click",
        },
        {
            content: "Say why",
            trigger: ".modal .o_field_widget[name=reason] textarea",
            run: "edit Duplicates of the October test import",
        },
        {
            content: "Confirm",
            trigger: ".modal button[name=action_confirm]",
            run: "click",
        },
        {
            content: "Ignored exceptions leave the to-do list; the other one stays",
            trigger: "body:not(:has(.modal)) .o_list_view:not(:has(.o_data_row:contains('Tour ignore'))) .o_data_row:contains('Tour keep me')",
        },
    ],
});

registry.category("web_tour.tours").add("psa_exception_group_suggestion_retry", {
    steps: () => [
        {
            content: "Open the group of projects whose customer is unknown",
            trigger: ".o_list_view .o_data_row:contains('Missing reference') td[name=reason_pattern]",
            run: "click",
        },
        {
            content: "The group counts both exceptions",
            trigger: ".o_form_view button[name=action_open_exceptions] .o_stat_value:contains('2')",
        },
        {
            content: "Its exceptions",
            trigger: ".o_form_view button[name=action_open_exceptions]",
            run: "click",
        },
        {
            content: "Open the one of project P-81",
            trigger: ".o_list_view .o_data_row:contains('P-81') td[name=name]",
            run: "click",
        },
        {
            content: "The best candidate is suggested, with its score",
            trigger: ".o_form_view .o_psa_best_suggestion:contains('ACME Limited')",
        },
        {
            content: "Review the suggestions",
            trigger: ".o_psa_best_suggestion button[name=action_open_map_wizard]",
            run: "click",
        },
        {
            content: "The evidence is shown beside the candidate",
            trigger: ".modal .o_psa_map_suggestions .o_data_row:contains('ACME Limited'):contains('token_sort_ratio')",
        },
        {
            content: "Accept the suggested mapping",
            trigger: ".modal .o_psa_map_suggestions .o_data_row:contains('ACME Limited') button.o_psa_map_suggestion",
            run: "click",
        },
        {
            content: "The dialog closes and the exception is being retried",
            trigger: "body:not(:has(.modal)) .o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Retrying')",
        },
        {
            content: "Back to the group",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains('customer <id>')",
            run: "click",
        },
        {
            content: "Retry the whole group",
            trigger: ".o_form_view button[name=action_retry_group]",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal-footer button.btn-primary",
            run: "click",
        },
        {
            content: "Back on the group once the retry is queued",
            trigger: "body:not(:has(.modal)) .o_form_view button[name=action_retry_group]",
        },
    ],
});
