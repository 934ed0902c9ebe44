import * as cart from './components/cart.js';
import button from './components/button.js';
import banner from './components/banner.js';
import extras from './components/extras.js';
import offer from './components/offer.js';

// The reviews component is loaded on demand: `import()` makes it a lazy chunk of this bundle,
// fetched from the page's own hash URL the first time a visitor asks for it.
function showReviews() {
    var panel = document.getElementById('reviews');
    return import('./components/reviews.js').then(function (reviews) {
        reviews.render(panel);
    });
}

function addReviewsButton() {
    var more = document.createElement('button');
    more.id = 'show-reviews';
    more.type = 'button';
    more.textContent = 'Show reviews';
    more.addEventListener('click', showReviews);
    var panel = document.createElement('section');
    panel.id = 'reviews';
    document.body.appendChild(more);
    document.body.appendChild(panel);
}

function start() {
    banner.render(document.getElementById('banner'));
    var counter = document.getElementById('cart-count');
    var buttons = document.querySelectorAll('.add-to-cart');
    for (var i = 0; i < buttons.length; i++) {
        button.setup(buttons[i], function (productId) {
            cart.add(productId);
            counter.textContent = String(cart.count());
        });
    }
    extras.render(document.getElementById('extras'));
    // the offer box came rendered from the server (render.js): hydrate it, or, when the server
    // fell back to an empty container, render it here from the props next to it
    var offerRoot = document.querySelector('[data-mendel-root="main"]');
    if (offerRoot) {
        if (!offerRoot.hasAttribute('data-mendel-ssr')) {
            var props = JSON.parse(document.querySelector('[data-mendel-props="main"]').textContent);
            offerRoot.innerHTML = offer.html(props);
        }
        offer.hydrate(offerRoot);
    }
    addReviewsButton();
    document.body.setAttribute('data-shop-ready', 'yes');
}

if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
} else {
    start();
}
