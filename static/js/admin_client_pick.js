// The appointment form: picking a client in the autocomplete fills this booking's contact
// details from their record, where they are still empty (staff may then correct them).
// Without JavaScript the server fills empty details from the record on save.
'use strict';
window.addEventListener('load', function() {
    const select = document.getElementById('id_client');
    if (!select || !window.django || !window.django.jQuery) {
        return;
    }
    const template = select.dataset.contactUrl;
    window.django.jQuery(select).on('change', function() {
        if (!select.value || !template) {
            return;
        }
        fetch(template.replace('0', encodeURIComponent(select.value)), {credentials: 'same-origin'})
            .then(function(response) { return response.ok ? response.json() : null; })
            .then(function(contact) {
                if (!contact) {
                    return;
                }
                [['id_client_name', contact.name], ['id_client_email', contact.email],
                 ['id_client_phone', contact.phone]].forEach(function(pair) {
                    const input = document.getElementById(pair[0]);
                    if (input && !input.value && pair[1]) {
                        input.value = pair[1];
                    }
                });
            });
    });
});
