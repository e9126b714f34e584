/** @odoo-module */
/*
 * Browser tours of the exception queue, run by tests/test_ui_tours.py:
 * a finance user resolves a missing reference by mapping it and retrying, and
 * bulk-ignores two exceptions with a reason.
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
