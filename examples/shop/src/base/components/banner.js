module.exports = {
    text: 'Welcome to the shop',
    render: function (element) {
        element.textContent = module.exports.text;
    }
};
