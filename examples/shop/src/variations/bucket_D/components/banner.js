module.exports = {
    text: 'Free shipping on every order today',
    render: function (element) {
        element.textContent = module.exports.text;
        element.className += ' banner--promo';
    }
};
