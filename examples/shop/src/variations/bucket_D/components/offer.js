// bucket_D's offer box: the promotion, in its own colours, server-rendered like the base one.
function escape(text) {
    return String(text)
        .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
        .replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

exports.headline = 'Promo week: two bags for the price of one';
exports.style = 'background:rgb(194, 24, 91);color:white';

exports.html = function (props) {
    var names = (props.products || []).map(function (product) {
        return '<li>2 x ' + escape(product.name) + ' <span class="offer__price">' + escape(product.price) + '</span></li>';
    });
    return '<section id="offer" class="offer offer--promo" style="' + exports.style + '">'
        + '<h2 id="offer-headline">' + escape(exports.headline) + '</h2>'
        + '<ul class="offer__list">' + names.join('') + '</ul>'
        + '<p id="offer-state">Rendered on the server</p>'
        + '</section>';
};

exports.hydrate = function (root) {
    var state = root.querySelector('#offer-state');
    if (state) {
        state.textContent = 'Rendered on the server, hydrated in the browser';
    }
    root.setAttribute('data-hydrated', 'yes');
};
