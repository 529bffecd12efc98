<?php
// The categories, linking to their items (in a region when one is given).
require __DIR__ . '/common.php';
$region = isset($_GET['region']) ? intArg('region') : null;
header_html($region === null ? 'All categories' : 'Categories in region ' . $region);
foreach (q('SELECT id, name FROM categories ORDER BY id') as $c) {
    $href = $region === null ? '/SearchItemsByCategory.php?category=' . $c['id'] : '/SearchItemsByRegion.php?category=' . $c['id'] . '&region=' . $region;
    echo '<a href="', h($href), '">', h($c['name']), "</a><br>\n";
}
footer_html();
