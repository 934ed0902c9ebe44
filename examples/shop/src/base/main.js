var cart = require('./components/cart.js');
var button = require('./components/button.js');
var banner = require('./components/banner.js');
var extras = require('./components/extras.js');

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
    document.body.setAttribute('data-shop-ready', 'yes');
}

if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
} else {
    start();
}
