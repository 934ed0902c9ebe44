// The offer box: HTML on the server (`html`), behaviour in the browser (`hydrate`).
function escape(text) {
    return String(text)
        .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
        .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

exports.headline = 'Fresh coffee, roasted this week';
exports.style = 'background:aliceblue;color:black';

exports.html = function (props) {
    var names = (props.products || []).map(function (product) {
        return '<li>' + escape(product.name) + ' <span class="offer__price">' + escape(product.price) + '</span></li>';
    });
    return '<section id="offer" class="offer" style="' + exports.style + '">'
        + '<h2 id="offer-headline">' + escape(exports.headline) + '</h2>'
        + '<ul class="offer__list">' + names.join('') + '</ul>'
        + '<p id="offer-state">Rendered on the server</p>'
        + '</section>';
};

// The page's own bundle makes the server's HTML live: same tree, so the same markup.
exports.hydrate = function (root) {
    var state = root.querySelector('#offer-state');
    if (state) {
        state.textContent = 'Rendered on the server, hydrated in the browser';
    }
    root.setAttribute('data-hydrated', 'yes');
};
