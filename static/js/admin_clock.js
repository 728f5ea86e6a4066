// The admin's clock pop-up offers "6 a.m.", "Noon" and "6 p.m.": the clinic speaks 24-hour
// times everywhere else (clinic/formats), so its shortcuts do too. Runs before the
// shortcuts are drawn (they wait for the page's "load" event).
'use strict';
document.addEventListener('DOMContentLoaded', function() {
    if (window.DateTimeShortcuts) {
        window.DateTimeShortcuts.clockHours.default_ = [
            ['Now', -1], ['00:00', 0], ['06:00', 6], ['09:00', 9], ['12:00', 12],
            ['15:00', 15], ['18:00', 18]
        ];
    }
});
