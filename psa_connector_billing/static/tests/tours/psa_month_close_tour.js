/** @odoo-module */
/*
 * Browser tour of Close the month (Accounting > PSA), run by
 * tests/test_ui_month_close.py: the controller opens November's close, reads the
 * checklist, generates the closing entries and posts them.
 */
import {registry} from "@web/core/registry";

registry.category("web_tour.tours").add("psa_month_close", {
    steps: () => [
        {
            content: "The month closes of the company",
            trigger: ".o_list_view .o_data_row td[name=month]",
            run: "click",
        },
        {
            content: "The checklist: open exceptions, time not applied, differences",
            trigger: ".o_form_view .o_field_widget[name=exception_count]",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=unapplied_time_count]",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=money_difference_count]",
        },
        {
            content: "Generate the draft closing entries",
            trigger: ".o_form_view .o_form_statusbar button[name=action_generate]",
            run: "click",
        },
        {
            content: "Generated: the accrued revenue and the draft entries",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Generated')",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=accrued_amount]:contains('1,235.00')",
        },
        {
            content: "Post the closing entries",
            trigger: ".o_form_view .o_form_statusbar button[name=action_post]",
            run: "click",
        },
        {
            content: "Confirm",
            trigger: ".modal-footer button.btn-primary",
            run: "click",
        },
        {
            content: "The month is closed",
            trigger: ".o_form_view .o_statusbar_status button.o_arrow_button_current:contains('Posted')",
        },
    ],
});
