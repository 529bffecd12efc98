<?php
// The regions, linking to their categories.
require __DIR__ . '/common.php';
header_html('All regions');
foreach (q('SELECT id, name FROM regions ORDER BY id') as $r) {
    echo '<a href="/BrowseCategories.php?region=', (int)$r['id'], '">', h($r['name']), "</a><br>\n";
}
footer_html();
